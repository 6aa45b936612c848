// SPDX-License-Identifier: GPL-2.0
/* Page counts per memory area from a walk of the process's page tables,
 * for the dirty count that neither PAGEMAP_SCAN nor soft-dirty gives here.
 * A page counts as smaps(5) counts it: a present page table entry that
 * maps a struct page (not the zero page or a PFN mapping), dirty when the
 * entry's dirty bit or the folio's PG_dirty is set. A swapped page is a
 * non-present entry that contains a swap entry, as smaps counts Swap.
 *
 * Page-table pages are reached through the kernel's direct map, and folio
 * flags through its struct page array. Neither base address is exported
 * (no kallsyms data symbols, no BTF variable), so both are derived once
 * and checked: see find_layout(). x86-64 with 4-level paging only. */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define VM_HUGETLB		0x00400000ULL
#define PTE_PRESENT		(1ULL << 0)
#define PTE_DIRTY		(1ULL << 6)
#define PTE_HUGE		(1ULL << 7)	/* _PAGE_PSE in a PUD or PMD entry */
#define PTE_PROTNONE		(1ULL << 8)
#define PTE_SPECIAL		(1ULL << 9)
#define PTE_SAVED_DIRTY		(1ULL << 58)	/* dirty bit of a write-protected page with shadow stacks */
#define PTE_PFN_MASK		0x000ffffffffff000ULL
/* pte_none() ignores the accessed and dirty bits (Knights Landing erratum). */
#define PTE_NONE_IGNORED	((1ULL << 5) | PTE_DIRTY)
/* A swap entry keeps its type in the top 5 bits (SWP_TYPE_BITS in
 * arch/x86/include/asm/pgtable_64.h). Types from MAX_SWAPFILES up are
 * migration, device, hwpoison and marker entries. MAX_SWAPFILES is 24 to 31
 * depending on the kernel's configuration, so types below 24 are swap files
 * on every configuration. */
#define SWP_TYPE_SHIFT		59
#define MAX_SWAPFILES_LOWEST	24
#define GIB			(1ULL << 30)
#define PGD_SHIFT		39
#define PUD_SHIFT		30
#define PMD_SHIFT		21
#define PAGE_SHIFT		12

/* The direct map starts at or above this address with 4-level paging
 * (__PAGE_OFFSET_BASE_L4), and KASLR moves it in 1 GiB steps. */
#define DIRECT_MAP_LOWEST	0xffff888000000000ULL
/* Candidate direct-map bases tried, one per GiB of physical address space. */
#define MAX_PHYS_GIB		4096
/* Steps of one area's walk: one per page table entry read. */
#define MAX_WALK_STEPS		(1U << 23)

enum layout_state { LAYOUT_UNKNOWN, LAYOUT_FOUND, LAYOUT_FAILED };

/* Base addresses found by the first run, kept while the object is loaded.
 * Scalars, because the skeleton declares global variables by their types. */
__u64 direct_map_base;		/* page_offset_base: virtual address of physical 0 */
__u64 page_array_base;		/* vmemmap_base: struct page of pfn 0 */
__u32 layout_state;		/* enum layout_state */

static __always_inline int read_u64(__u64 addr, __u64 *out)
{
	return bpf_probe_read_kernel(out, sizeof(*out), (const void *)addr);
}

static __always_inline __u64 index_of(__u64 addr, int shift)
{
	return (addr >> shift) & 511;
}

static __always_inline __u64 next_boundary(__u64 addr, int shift)
{
	return (addr | ((1ULL << shift) - 1)) + 1;
}

/* Translates kernel virtual address va to a physical address, reading the
 * lower page-table levels through direct_map. Returns 0 on success. */
static __always_inline int translate(__u64 pgd, __u64 direct_map, __u64 va, __u64 *phys)
{
	__u64 e;

	if (read_u64(pgd + 8 * index_of(va, PGD_SHIFT), &e) || !(e & PTE_PRESENT))
		return -1;
	if (read_u64(direct_map + (e & PTE_PFN_MASK) + 8 * index_of(va, PUD_SHIFT), &e) || !(e & PTE_PRESENT))
		return -1;
	if (e & PTE_HUGE) {
		*phys = (e & PTE_PFN_MASK & ~(GIB - 1)) | (va & (GIB - 1));
		return 0;
	}
	if (read_u64(direct_map + (e & PTE_PFN_MASK) + 8 * index_of(va, PMD_SHIFT), &e) || !(e & PTE_PRESENT))
		return -1;
	if (e & PTE_HUGE) {
		*phys = (e & PTE_PFN_MASK & ~((1ULL << PMD_SHIFT) - 1)) | (va & ((1ULL << PMD_SHIFT) - 1));
		return 0;
	}
	if (read_u64(direct_map + (e & PTE_PFN_MASK) + 8 * index_of(va, PAGE_SHIFT), &e) || !(e & PTE_PRESENT))
		return -1;
	*phys = (e & PTE_PFN_MASK) | (va & ((1ULL << PAGE_SHIFT) - 1));
	return 0;
}

struct base_search {
	__u64 pgd;	/* virtual address of a page-table root, itself in the direct map */
	__u64 found;
};

/* Tries direct-map base number i below the pgd's own address. The right
 * base is the one under which the page tables map the pgd's virtual
 * address to the physical address the base implies (va - base). */
static long try_direct_map(__u64 i, struct base_search *search)
{
	__u64 base = (search->pgd & ~(GIB - 1)) - i * GIB;
	__u64 phys;

	if (base < DIRECT_MAP_LOWEST)
		return 1;
	if (translate(search->pgd, base, search->pgd, &phys) == 0 && phys == search->pgd - base) {
		search->found = base;
		return 1;
	}
	return 0;
}

/* Finds the struct page array from the task's vmalloc'ed kernel stack:
 * vm_struct.pages[0] is the struct page of the stack's first page, whose
 * pfn the page tables give. The array starts 1 GiB aligned under KASLR,
 * which serves as the check. */
static __always_inline __u64 find_page_array(struct task_struct *task, __u64 pgd, __u64 direct_map)
{
	struct vm_struct *area = BPF_CORE_READ(task, stack_vm_area);
	struct page **pages;
	__u64 first_page, phys, array;

	if (!area)
		return 0;
	pages = BPF_CORE_READ(area, pages);
	if (!pages || bpf_probe_read_kernel(&first_page, sizeof(first_page), pages))
		return 0;
	if (translate(pgd, direct_map, (__u64)BPF_CORE_READ(area, addr), &phys))
		return 0;
	array = first_page - (phys >> PAGE_SHIFT) * bpf_core_type_size(struct page);
	return (array & (GIB - 1)) == 0 ? array : 0;
}

static __always_inline int find_layout(struct task_struct *task, __u64 pgd)
{
	struct base_search search = { .pgd = pgd };

	if (layout_state == LAYOUT_FOUND)
		return 1;
	if (layout_state == LAYOUT_FAILED)
		return 0;

	bpf_loop(MAX_PHYS_GIB, try_direct_map, &search, 0);
	if (search.found) {
		__u64 array = find_page_array(task, pgd, search.found);

		if (array) {
			direct_map_base = search.found;
			page_array_base = array;
			layout_state = LAYOUT_FOUND;
			return 1;
		}
	}
	layout_state = LAYOUT_FAILED;
	return 0;
}

struct walk {
	__u64 addr;
	__u64 end;
	__u64 pgd;
	__u64 pte_table;	/* direct-map address of the current PTE table, 0 when none */
	__u64 pte_table_end;	/* first address the current PTE table does not map */
	__u64 present;
	__u64 dirty;
	__u64 swapped;
	int done;
};

/* Reads PG_dirty of the folio that contains page frame pfn. */
static __always_inline int folio_dirty(__u64 pfn)
{
	__u64 page = page_array_base + pfn * bpf_core_type_size(struct page);
	__u64 head, flags;

	if (read_u64(page + bpf_core_field_offset(struct page, compound_head), &head))
		return 0;
	if (head & 1)
		page = head - 1;
	if (read_u64(page + bpf_core_field_offset(struct page, flags), &flags))
		return 0;
	return (flags >> bpf_core_enum_value(enum pageflags, PG_dirty)) & 1;
}

/* Counts a non-present page table entry that contains a swap entry.
 * Entries at PMD level are migration entries only, so only PTEs come here. */
static __always_inline void count_swap(struct walk *w, __u64 entry)
{
	if (!(entry & ~PTE_NONE_IGNORED) || (entry & (PTE_PRESENT | PTE_PROTNONE)))
		return;	/* none, or present */
	if ((entry >> SWP_TYPE_SHIFT) < MAX_SWAPFILES_LOWEST)
		w->swapped++;
}

/* Counts pages mapped by one leaf entry that covers `pages` pages. */
static __always_inline void count_leaf(struct walk *w, __u64 entry, __u64 pages)
{
	__u64 pfn;

	if (!(entry & PTE_PRESENT) && (entry & (PTE_PRESENT | PTE_PROTNONE)) != PTE_PROTNONE)
		return;	/* empty, swap or migration entry */
	if (entry & PTE_SPECIAL)
		return;	/* zero page or PFN mapping: no struct page, as vm_normal_page() decides */

	/* PROT_NONE entries keep the pfn inverted (L1TF mitigation). */
	pfn = ((entry & PTE_PRESENT) ? entry : ~entry) & PTE_PFN_MASK;
	pfn >>= PAGE_SHIFT;
	w->present += pages;
	if ((entry & (PTE_DIRTY | PTE_SAVED_DIRTY)) || folio_dirty(pfn))
		w->dirty += pages;
}

/* One step: reads one PTE of the current table, or descends from the pgd
 * to the next PTE table, skipping the range of any empty entry above. */
static long walk_step(__u64 i, struct walk *w)
{
	__u64 addr = w->addr;
	__u64 e;

	if (addr >= w->end) {
		w->done = 1;
		return 1;
	}
	if (w->pte_table && addr < w->pte_table_end) {
		if (read_u64(w->pte_table + 8 * index_of(addr, PAGE_SHIFT), &e) == 0 && e) {
			count_leaf(w, e, 1);
			count_swap(w, e);
		}
		w->addr = addr + (1ULL << PAGE_SHIFT);
		return 0;
	}
	w->pte_table = 0;

	if (read_u64(w->pgd + 8 * index_of(addr, PGD_SHIFT), &e) || !(e & PTE_PRESENT)) {
		w->addr = next_boundary(addr, PGD_SHIFT);
		return 0;
	}
	if (read_u64(direct_map_base + (e & PTE_PFN_MASK) + 8 * index_of(addr, PUD_SHIFT), &e) || !(e & PTE_PRESENT)) {
		w->addr = next_boundary(addr, PUD_SHIFT);
		return 0;
	}
	if (e & PTE_HUGE) {
		count_leaf(w, e, 1ULL << (PUD_SHIFT - PAGE_SHIFT));
		w->addr = next_boundary(addr, PUD_SHIFT);
		return 0;
	}
	if (read_u64(direct_map_base + (e & PTE_PFN_MASK) + 8 * index_of(addr, PMD_SHIFT), &e) || !e) {
		w->addr = next_boundary(addr, PMD_SHIFT);
		return 0;
	}
	if (e & PTE_HUGE) {
		count_leaf(w, e, 1ULL << (PMD_SHIFT - PAGE_SHIFT));
		w->addr = next_boundary(addr, PMD_SHIFT);
		return 0;
	}
	if (!(e & PTE_PRESENT)) {
		w->addr = next_boundary(addr, PMD_SHIFT);	/* a THP swap or migration entry */
		return 0;
	}
	w->pte_table = direct_map_base + (e & PTE_PFN_MASK);
	w->pte_table_end = next_boundary(addr, PMD_SHIFT);
	return 0;
}

SEC("iter/task_vma")
int count_vma_pages(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct bpfcp_vma_pages rec = {};
	struct walk w = {};

	if (!vma || !task)
		return 0;
	set_header(&rec.hdr, BPFCP_REC_VMA_PAGES, sizeof(rec));
	rec.start = vma->vm_start;
	rec.end = vma->vm_end;
	w.pgd = (__u64)BPF_CORE_READ(vma, vm_mm, pgd);

	if (vma->vm_flags & VM_HUGETLB) {
		rec.status = BPFCP_PAGES_HUGETLB;
	} else if (!find_layout(task, w.pgd)) {
		rec.status = BPFCP_PAGES_NO_LAYOUT;
	} else {
		w.addr = rec.start;
		w.end = rec.end;
		bpf_loop(MAX_WALK_STEPS, walk_step, &w, 0);
		rec.present = w.present;
		rec.dirty = w.dirty;
		rec.swapped = w.swapped;
		rec.status = w.done ? BPFCP_PAGES_COUNTED : BPFCP_PAGES_TRUNCATED;
	}

	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

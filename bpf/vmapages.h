/* Records of vmapages.bpf.c: page counts of one memory area, from a walk
 * of the process's page tables. */
#ifndef BPFCP_VMAPAGES_H
#define BPFCP_VMAPAGES_H

/* bpfcp_vma_pages.status */
#define BPFCP_PAGES_COUNTED	0	/* present and dirty are complete */
#define BPFCP_PAGES_HUGETLB	1	/* hugetlb area: smaps counts it apart, nothing was walked */
#define BPFCP_PAGES_NO_LAYOUT	2	/* the direct map or struct page array was not found */
#define BPFCP_PAGES_TRUNCATED	3	/* the walk stopped at its step limit; counts are lower bounds */

struct bpfcp_vma_pages {
	struct bpfcp_rec_hdr hdr;
	__u64 start;
	__u64 end;
	__u64 present;		/* mapped pages with a struct page, in 4 KiB units (smaps Rss) */
	__u64 dirty;		/* of those, dirty in the page table or the page cache (smaps
				 * Private_Dirty plus Shared_Dirty), in 4 KiB units */
	__u32 status;		/* BPFCP_PAGES_* */
	__u32 _pad;
	__u64 swapped;		/* page table entries holding a swap entry, not a migration
				 * or other special entry (smaps Swap of a private area) */
};

_Static_assert(sizeof(struct bpfcp_vma_pages) == 56, "bpfcp_vma_pages layout changed");

#endif

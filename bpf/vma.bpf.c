// SPDX-License-Identifier: GPL-2.0
/* Memory areas: iter/task_vma visits each address space once. bpf_d_path()
 * is rejected on vma->vm_file here, so the program emits (dev, inode) and
 * user space resolves paths with a cache. */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Names a mapping without a file: special mappings ([vdso], [vvar],
 * [vvar_vclock]) keep a struct vm_special_mapping in vm_private_data.
 * NOTE: this kernel is built without CONFIG_ANON_VMA_NAME, so names set with
 * prctl(PR_SET_VMA_ANON_NAME) are not read. */
static __always_inline void fill_name(struct bpfcp_vma *rec, struct vm_area_struct *vma)
{
	const struct vm_special_mapping *special;

	if (!vma->vm_ops)
		return;
	special = vma->vm_private_data;
	if (special)
		bpf_probe_read_kernel_str(rec->name, sizeof(rec->name), BPF_CORE_READ(special, name));
}

SEC("iter/task_vma")
int dump_vmas(struct bpf_iter__task_vma *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct vm_area_struct *vma = ctx->vma;
	struct mm_struct *mm;
	struct file *file;
	struct bpfcp_vma rec = {};

	if (!vma || !ctx->task)
		return 0;
	set_header(&rec.hdr, BPFCP_REC_VMA, sizeof(rec));
	rec.start = vma->vm_start;
	rec.end = vma->vm_end;
	rec.pgoff = vma->vm_pgoff;
	rec.vm_flags = vma->vm_flags;

	/* Plain loads through the BTF-typed pointers: the verifier makes them
	 * fault-safe, and they cost far less than bpf_probe_read_kernel() calls,
	 * which matters at tens of thousands of areas. */
	mm = vma->vm_mm;
	rec.start_brk = mm->start_brk;
	rec.brk = mm->brk;
	rec.start_stack = mm->start_stack;

	file = vma->vm_file;
	if (file) {
		struct inode *inode = file->f_inode;

		rec.has_file = 1;
		rec.ino = inode->i_ino;
		rec.dev = inode->i_sb->s_dev;
		rec.s_magic = inode->i_sb->s_magic;
	} else {
		fill_name(&rec, vma);
	}

	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* io_uring instances: ring sizes and setup flags from the io_ring_ctx in
 * each io_uring fd's private data, and the mappings of their rings, which
 * the mmap offset (vm_pgoff) tells apart. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"

#define IORING_SETUP_SQPOLL (1U << 1)

static __always_inline __s32 sq_thread_pid(struct io_ring_ctx *ring)
{
	struct io_sq_data *sq;
	struct task_struct *thread;

	if (!(BPF_CORE_READ(ring, flags) & IORING_SETUP_SQPOLL))
		return -1;
	sq = BPF_CORE_READ(ring, sq_data);
	thread = BPF_CORE_READ(sq, thread);
	return thread ? BPF_CORE_READ(thread, pid) : -1;
}

BPFCP_VISITOR int visit_io_uring(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct io_ring_ctx *ring;
	struct bpfcp_io_uring rec = {};

	if (!IS_ANON(file, "[io_uring]"))
		return 0;
	ring = BPF_CORE_READ(file, private_data);
	if (!ring)
		return 0;

	set_header(&rec.hdr, BPFCP_REC_IO_URING, sizeof(rec));
	rec.fd = fd;
	rec.setup_flags = BPF_CORE_READ(ring, flags);
	rec.sq_entries = BPF_CORE_READ(ring, sq_entries);
	rec.cq_entries = BPF_CORE_READ(ring, cq_entries);
	rec.ino = BPF_CORE_READ(file, f_inode, i_ino);
	rec.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	rec.sq_thread_pid = sq_thread_pid(ring);
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_io_uring(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_io_uring(ctx->meta->seq, task, file, ctx->fd);
}

SEC("iter/task_vma")
int dump_io_uring_maps(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct bpfcp_io_uring_map rec = {};
	struct file *file;

	if (!vma || !ctx->task)
		return 0;
	file = vma->vm_file;
	if (!file || !IS_ANON(file, "[io_uring]"))
		return 0;

	set_header(&rec.hdr, BPFCP_REC_IO_URING_MAP, sizeof(rec));
	rec.start = vma->vm_start;
	rec.end = vma->vm_end;
	rec.pgoff = vma->vm_pgoff;
	rec.ino = BPF_CORE_READ(file, f_inode, i_ino);
	rec.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
#endif

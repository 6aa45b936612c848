// SPDX-License-Identifier: GPL-2.0
/* Pipes and FIFOs: one record per fd whose inode is a FIFO, with the
 * pipe_inode_info that both ends share. Bytes queued are summed over the
 * occupied ring slots, which FIONREAD also does. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"

/* Upper bound on ring slots summed; pipe-max-size allows 256 with 4 KiB pages by default. */
#define MAX_PIPE_SLOTS 65536

struct queue_walk {
	struct pipe_buffer *bufs;
	__u32 tail;
	__u32 mask;
	__u64 bytes;
};

static long add_slot(__u32 i, void *data)
{
	struct queue_walk *walk = data;
	__u32 slot = (walk->tail + i) & walk->mask;
	struct pipe_buffer *buf = (void *)walk->bufs + (__u64)slot * bpf_core_type_size(struct pipe_buffer);

	walk->bytes += BPF_CORE_READ(buf, len);
	return 0;
}

static __always_inline void fill_pipe(struct bpfcp_pipe *rec, struct pipe_inode_info *pipe)
{
	struct queue_walk walk = {};
	__u32 head = BPF_CORE_READ(pipe, head);
	__u32 tail = BPF_CORE_READ(pipe, tail);
	__u32 used;

	/* head and tail are pipe_index_t, which is 16 bits wide on 32-bit kernels. */
	used = head - tail;
	if (bpf_core_field_size(pipe->head) == 2)
		used &= 0xffff;

	rec->max_usage = BPF_CORE_READ(pipe, max_usage);
	rec->ring_size = BPF_CORE_READ(pipe, ring_size);
	rec->readers = BPF_CORE_READ(pipe, readers);
	rec->writers = BPF_CORE_READ(pipe, writers);
	rec->slots_used = used;

	if (used > MAX_PIPE_SLOTS || rec->ring_size == 0)
		return;
	walk.bufs = BPF_CORE_READ(pipe, bufs);
	walk.tail = tail;
	walk.mask = rec->ring_size - 1;
	bpf_loop(used, add_slot, &walk, 0);
	rec->queued = walk.bytes;
}

BPFCP_VISITOR int visit_pipe(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct inode *inode;
	struct pipe_inode_info *pipe;
	struct bpfcp_pipe rec = {};

	inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFIFO)
		return 0;
	pipe = BPF_CORE_READ(file, private_data);
	if (!pipe)
		return 0;

	set_header(&rec.hdr, BPFCP_REC_PIPE, sizeof(rec));
	rec.fd = fd;
	rec.f_mode = BPF_CORE_READ(file, f_mode);
	rec.f_flags = BPF_CORE_READ(file, f_flags);
	rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	rec.ino = BPF_CORE_READ(inode, i_ino);
	rec.s_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	fill_pipe(&rec, pipe);

	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_pipes(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_pipe(ctx->meta->seq, task, file, ctx->fd);
}
#endif

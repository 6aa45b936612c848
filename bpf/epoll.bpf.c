// SPDX-License-Identifier: GPL-2.0
/* Epoll watches: for each epoll fd, an in-order walk of the red-black tree
 * of epitems in its struct eventpoll. The walk reads pointers with
 * bpf_probe_read_kernel, so a tree changing under it can end it early or
 * repeat an item but not fault. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"
#include "fd_cursor.bpf.h"

/* Tree nodes one run visits at most, and the depth a successor search may
 * climb or descend: a red-black tree of 2^32 nodes is at most 64 deep. */
#define MAX_VISITS (1 << 20)
#define MAX_DEPTH 64

struct tree_walk {
	struct seq_file *seq;
	struct rb_node *node;
	__s32 epoll_fd;
	__u32 skip;
	__u32 visited;
	__u32 written;
};

static __always_inline struct rb_node *rb_parent_of(struct rb_node *node)
{
	return (struct rb_node *)(BPF_CORE_READ(node, __rb_parent_color) & ~3UL);
}

/* Returns the in-order successor of node, or NULL after the last one. */
static __always_inline struct rb_node *rb_successor(struct rb_node *node)
{
	struct rb_node *next = BPF_CORE_READ(node, rb_right);
	struct rb_node *parent;

	if (next) {
		for (int i = 0; i < MAX_DEPTH; i++) {
			struct rb_node *left = BPF_CORE_READ(next, rb_left);

			if (!left)
				break;
			next = left;
		}
		return next;
	}
	for (int i = 0; i < MAX_DEPTH; i++) {
		parent = rb_parent_of(node);
		if (!parent || BPF_CORE_READ(parent, rb_right) != node)
			return parent;
		node = parent;
	}
	return NULL;
}

static __always_inline void write_watch(struct tree_walk *walk, struct epitem *item)
{
	struct bpfcp_epoll_watch rec = {};
	struct inode *inode = BPF_CORE_READ(item, ffd.file, f_inode);

	set_header(&rec.hdr, BPFCP_REC_EPOLL_WATCH, sizeof(rec));
	rec.epoll_fd = walk->epoll_fd;
	rec.target_fd = BPF_CORE_READ(item, ffd.fd);
	rec.target_ino = BPF_CORE_READ(inode, i_ino);
	rec.target_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	rec.target_mode = BPF_CORE_READ(inode, i_mode);
	rec.target_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	rec.events = BPF_CORE_READ(item, event.events);
	rec.data = BPF_CORE_READ(item, event.data);
	bpf_seq_write(walk->seq, &rec, sizeof(rec));
}

static long visit_watch(__u32 i, void *data)
{
	struct tree_walk *walk = data;
	struct epitem *item;

	if (!walk->node || walk->written >= BPFCP_EPOLL_WATCHES_PER_RUN)
		return 1;
	if (walk->visited >= walk->skip) {
		/* rbn is the first member of struct epitem, inside a union. */
		item = (void *)walk->node - bpf_core_field_offset(struct epitem, rbn);
		write_watch(walk, item);
		walk->written++;
	}
	walk->visited++;
	walk->node = rb_successor(walk->node);
	return 0;
}

/* Writes the watches of an epoll fd and then its struct bpfcp_epoll. Only
 * fd only_fd is reported unless it is -1, from tree position skip. */
static __always_inline int write_epoll(struct seq_file *seq, struct file *file, int fd, __s32 only_fd, __u32 skip)
{
	struct eventpoll *ep;
	struct tree_walk walk = {};
	struct bpfcp_epoll rec = {};

	if (!IS_ANON(file, "[eventpoll]"))
		return 0;
	if (only_fd >= 0 && only_fd != fd)
		return 0;
	ep = BPF_CORE_READ(file, private_data);
	if (!ep)
		return 0;

	walk.seq = seq;
	walk.epoll_fd = fd;
	walk.skip = only_fd >= 0 ? skip : 0;
	walk.node = BPF_CORE_READ(ep, rbr.rb_leftmost);
	bpf_loop(MAX_VISITS, visit_watch, &walk, 0);

	set_header(&rec.hdr, BPFCP_REC_EPOLL, sizeof(rec));
	rec.fd = fd;
	rec.first = walk.skip;
	rec.watches = walk.written;
	rec.truncated = walk.node != NULL;
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

/* Writes every watch of an epoll fd, as a run with cursor -1 does. */
BPFCP_VISITOR int visit_epoll(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	return write_epoll(seq, file, fd, -1, 0);
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

/* Reports every epoll fd, or resumes one from the cursor user space set. */
BPFCP_CURSOR_PROGRAM(dump_epoll, epoll_cursor, bpfcp_epoll_cursor, write_epoll)
#endif

// SPDX-License-Identifier: GPL-2.0
/* One pass over a process's fd table for every fd kind. Each kind keeps its
 * visit function in its own bpf/<kind>.bpf.c, together with the program that
 * runs it alone (dump --only pipes); this file includes those files without
 * their programs and calls every visitor on each open file, so that a full
 * dump walks the 10,000 fds of a large table once instead of once per kind.
 * The records are the ones each kind's own program writes; user space splits
 * the stream by record kind. Epoll and notify fds are reported from their
 * first watch, as when their cursor is -1. */
#define BPFCP_SHARED_PASS
#include "vmlinux.h"
#include "common.bpf.h"
#include "file.bpf.c"
#include "pipe.bpf.c"
#include "eventfd.bpf.c"
#include "sockets.bpf.c"
#include "epoll.bpf.c"
#include "notify.bpf.c"
#include "memfd.bpf.c"
#include "io_uring.bpf.c"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_fd_table(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	int fd = ctx->fd;

	if (!file || !task)
		return 0;
	visit_file(seq, task, file, fd);
	visit_pipe(seq, task, file, fd);
	visit_event_file(seq, task, file, fd);
	visit_socket(seq, task, file, fd);
	visit_epoll(seq, file, fd, -1, 0);
	visit_notify(seq, file, fd, -1, 0);
	visit_memfd(seq, task, file, fd);
	visit_io_uring(seq, task, file, fd);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* One pass over a process's fd table for every fd kind. Each kind keeps its
 * BPFCP_VISITOR visit function in its own bpf/<kind>.bpf.c, together with
 * the program that runs it alone (dump --only pipes). This file includes
 * those files without their programs and calls every visit function on each
 * open file, so that a full dump walks a large fd table once instead of once
 * per kind. tools/gen-fd-visitors.sh lists the files in fd_visitors.h, so a
 * new fd kind needs no edit here. The pass writes the records each kind's
 * own program writes, and user space splits the stream by record kind.
 * Epoll and notify fds are reported from their first watch, as when their
 * cursor is -1.
 *
 * The records of one open file must fit in the 32 KiB seq_file buffer. The
 * largest are an epoll fd's 600 watches (28.8 KiB) and a notify fd's
 * 24 KiB of marks plus one more mark, which leave room for its file record
 * of about 130 bytes (an anonymous inode's path is short). */
#define BPFCP_SHARED_PASS
#include "vmlinux.h"
#include "common.bpf.h"
#include "fd_visitors.h"

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
	BPFCP_FD_VISITORS(seq, task, file, fd);
	return 0;
}

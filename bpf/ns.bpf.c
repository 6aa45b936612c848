// SPDX-License-Identifier: GPL-2.0
/* Namespaces: the inode of each namespace of a process and its pid at every
 * pid-namespace level (iter/task, leader only). */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void fill_nsproxy(struct bpfcp_ns *rec, struct nsproxy *ns)
{
	if (!ns)
		return;
	rec->has_nsproxy = 1;
	rec->mnt = BPF_CORE_READ(ns, mnt_ns, ns.inum);
	rec->uts = BPF_CORE_READ(ns, uts_ns, ns.inum);
	rec->ipc = BPF_CORE_READ(ns, ipc_ns, ns.inum);
	rec->pid_for_children = BPF_CORE_READ(ns, pid_ns_for_children, ns.inum);
	rec->net = BPF_CORE_READ(ns, net_ns, ns.inum);
	rec->cgroup = BPF_CORE_READ(ns, cgroup_ns, ns.inum);
	rec->time = BPF_CORE_READ(ns, time_ns, ns.inum);
	rec->time_for_children = BPF_CORE_READ(ns, time_ns_for_children, ns.inum);
}

static __always_inline void fill_levels(struct bpfcp_ns *rec, struct pid *pid)
{
	__u32 level;

	if (!pid)
		return;
	level = BPF_CORE_READ(pid, level);
	rec->level = level;
	for (__u32 i = 0; i < BPFCP_PID_LEVELS; i++) {
		if (i > level)
			break;
		rec->levels[i].nr = BPF_CORE_READ(pid, numbers[i].nr);
		rec->levels[i].ns_inum = BPF_CORE_READ(pid, numbers[i].ns, ns.inum);
	}
	if (level < BPFCP_PID_LEVELS)
		rec->pid = rec->levels[level].ns_inum;
}

SEC("iter/task")
int dump_namespaces(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_ns *rec;

	if (!task || task->pid != task->tgid)
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	set_header(&rec->hdr, BPFCP_REC_NS, sizeof(*rec));
	rec->tgid = task->tgid;
	fill_nsproxy(rec, BPF_CORE_READ(task, nsproxy));
	rec->user = BPF_CORE_READ(task, cred, user_ns, ns.inum);
	fill_levels(rec, BPF_CORE_READ(task, thread_pid));
	bpf_seq_write(seq, rec, sizeof(*rec));
	return 0;
}

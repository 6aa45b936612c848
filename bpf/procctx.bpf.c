// SPDX-License-Identifier: GPL-2.0
/* Process context: identity and tree, scheduling, limits, environment,
 * interval and POSIX timers (iter/task, leader only), and the environment
 * variables (iter.s/task, because they live in user memory). */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define HEAD_SIZE offsetof(struct bpfcp_context, rlim)

/* Indexes of signal->it[], from linux/posix-timers.h. */
#define CPUCLOCK_PROF 0
#define CPUCLOCK_VIRT 1

static __always_inline __s32 pid_nr_of(struct pid *pid)
{
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

static __always_inline void fill_identity(struct bpfcp_context *rec, struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	rec->tgid = BPF_CORE_READ(task, tgid);
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	rec->ptrace = BPF_CORE_READ(task, ptrace);
	rec->tracer_pid = rec->ptrace ? BPF_CORE_READ(task, parent, tgid) : 0;
	rec->pgid = pid_nr_of(BPF_CORE_READ(sig, pids[PIDTYPE_PGID]));
	rec->sid = pid_nr_of(BPF_CORE_READ(sig, pids[PIDTYPE_SID]));
	rec->state = BPF_CORE_READ(task, __state);
	rec->exit_state = BPF_CORE_READ(task, exit_state);
	rec->exit_code = BPF_CORE_READ(task, exit_code);
	rec->jobctl = (__u32)BPF_CORE_READ(task, jobctl);
	rec->flags = BPF_CORE_READ(task, flags);
}

/* Copies the tgids on task->children into out. Returns the count, and sets
 * *truncated when the list is longer than BPFCP_CHILDREN_MAX. */
static __always_inline __u32 read_children(struct task_struct *task, __s32 *out, __u32 *truncated)
{
	struct list_head *head = &task->children;
	struct list_head *node = BPF_CORE_READ(head, next);
	__u32 i;

	for (i = 0; i < BPFCP_CHILDREN_MAX; i++) {
		struct task_struct *child;

		if (!node || node == head)
			break;
		child = container_of(node, struct task_struct, sibling);
		out[i] = BPF_CORE_READ(child, tgid);
		node = BPF_CORE_READ(node, next);
	}
	*truncated = node && node != head;
	return i;
}

static __always_inline void emit_thread_children(struct seq_file *seq, struct task_struct *task)
{
	struct bpfcp_thread_children *rec = scratch_record();

	if (!rec)
		return;
	rec->count = read_children(task, rec->children, &rec->truncated);
	if (rec->count == 0)
		return;
	rec->tid = BPF_CORE_READ(task, pid);
	rec->pad = 0;
	set_header(&rec->hdr, BPFCP_REC_THREAD_CHILDREN, sizeof(*rec));
	bpf_seq_write(seq, rec, sizeof(*rec));
}

static __always_inline void fill_scheduling(struct bpfcp_context *rec, struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	rec->static_prio = BPF_CORE_READ(task, static_prio);
	rec->policy = BPF_CORE_READ(task, policy);
	rec->rt_priority = BPF_CORE_READ(task, rt_priority);
	rec->nr_cpus_allowed = BPF_CORE_READ(task, nr_cpus_allowed);
	bpf_probe_read_kernel(rec->cpus, sizeof(rec->cpus), &task->cpus_mask.bits);
	bpf_probe_read_kernel(rec->rlim, sizeof(rec->rlim), &sig->rlim);
}

static __always_inline void fill_fs_ref(struct bpfcp_fs_ref *ref, struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if (!inode)
		return;
	ref->valid = 1;
	ref->ino = BPF_CORE_READ(inode, i_ino);
	ref->dev = BPF_CORE_READ(inode, i_sb, s_dev);
}

static __always_inline void fill_environment(struct bpfcp_context *rec, struct task_struct *task)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	rec->personality = BPF_CORE_READ(task, personality);
	rec->umask = -1;
	if (fs) {
		rec->umask = BPF_CORE_READ(fs, umask);
		fill_fs_ref(&rec->cwd, BPF_CORE_READ(fs, pwd.dentry));
		fill_fs_ref(&rec->root, BPF_CORE_READ(fs, root.dentry));
	}
	if (mm) {
		rec->has_mm = 1;
		fill_fs_ref(&rec->exe, BPF_CORE_READ(mm, exe_file, f_path.dentry));
		bpf_probe_read_kernel(rec->auxv, sizeof(rec->auxv), &mm->saved_auxv);
	} else {
		for (int i = 0; i < BPFCP_AUXV_WORDS; i++)
			rec->auxv[i] = 0;
	}
}

/* Copies the kernfs names from the task's cgroup v2 node up to, but not
 * including, the root, leaf first. */
static __always_inline void fill_cgroup(struct bpfcp_context *rec, struct task_struct *task)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	__u32 i;

	for (i = 0; i < BPFCP_CGROUP_DEPTH; i++) {
		struct kernfs_node *parent;

		if (!kn)
			break;
		parent = BPF_CORE_READ(kn, __parent);
		if (!parent)
			break;
		bpf_probe_read_kernel_str(rec->cgroup[i], BPFCP_CGROUP_NAME, BPF_CORE_READ(kn, name));
		kn = parent;
	}
	rec->cgroup_depth = i;
}

static __always_inline void fill_itimers(struct bpfcp_context *rec, struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	rec->real_timer_state = BPF_CORE_READ(sig, real_timer.state);
	rec->real_timer_clock = BPF_CORE_READ(sig, real_timer.base, clockid);
	rec->real_timer_expires = BPF_CORE_READ(sig, real_timer.node.expires);
	rec->real_timer_interval = BPF_CORE_READ(sig, it_real_incr);
	rec->virt_expires = BPF_CORE_READ(sig, it[CPUCLOCK_VIRT].expires);
	rec->virt_interval = BPF_CORE_READ(sig, it[CPUCLOCK_VIRT].incr);
	rec->prof_expires = BPF_CORE_READ(sig, it[CPUCLOCK_PROF].expires);
	rec->prof_interval = BPF_CORE_READ(sig, it[CPUCLOCK_PROF].incr);
}

static __always_inline void emit_timer(struct seq_file *seq, struct k_itimer *timer, __s32 tgid)
{
	struct bpfcp_posix_timer rec = {};

	set_header(&rec.hdr, BPFCP_REC_POSIX_TIMER, sizeof(rec));
	rec.tgid = tgid;
	rec.id = BPF_CORE_READ(timer, it_id);
	rec.clock = BPF_CORE_READ(timer, it_clock);
	rec.notify = BPF_CORE_READ(timer, it_sigev_notify);
	rec.signo = BPF_CORE_READ(timer, sigq.info.si_signo);
	bpf_probe_read_kernel(&rec.sigval, sizeof(rec.sigval), &timer->sigq.info._sifields._timer._sigval);
	rec.target_tid = pid_nr_of(BPF_CORE_READ(timer, it_pid));
	rec.status = BPF_CORE_READ(timer, it_status);
	rec.interval = BPF_CORE_READ(timer, it_interval);
	rec.overrun = BPF_CORE_READ(timer, it_overrun);

	/* CPU-time clocks are negative (per-pid) or 2 and 3; the alarm clocks 8 and 9 use an alarm. */
	if (rec.clock < 0 || rec.clock == 2 || rec.clock == 3) {
		rec.base_clock = -1;
		rec.expires = BPF_CORE_READ(timer, it.cpu.node.expires);
	} else if (rec.clock == 8 || rec.clock == 9) {
		rec.base_clock = rec.clock == 8 ? 0 : 7;
		rec.expires = BPF_CORE_READ(timer, it.alarm.alarmtimer.node.expires);
	} else {
		rec.base_clock = BPF_CORE_READ(timer, it.real.timer.base, clockid);
		rec.expires = BPF_CORE_READ(timer, it.real.timer.node.expires);
	}
	bpf_seq_write(seq, &rec, sizeof(rec));
}

#define BPFCP_TIMERS_MAX 256

static __always_inline void emit_timers(struct seq_file *seq, struct task_struct *task, __s32 tgid)
{
	struct hlist_node *node = BPF_CORE_READ(task, signal, posix_timers.first);

	for (int i = 0; i < BPFCP_TIMERS_MAX; i++) {
		if (!node)
			break;
		emit_timer(seq, container_of(node, struct k_itimer, list), tgid);
		node = BPF_CORE_READ(node, next);
	}
}

SEC("iter/task")
int dump_context(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_context *rec;

	if (!task)
		return 0;
	if (task->pid != task->tgid) {
		emit_thread_children(seq, task);
		return 0;
	}
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, HEAD_SIZE);

	fill_identity(rec, task);
	rec->children_count = read_children(task, rec->children, &rec->children_truncated);
	fill_scheduling(rec, task);
	fill_environment(rec, task);
	fill_cgroup(rec, task);
	fill_itimers(rec, task);

	set_header(&rec->hdr, BPFCP_REC_CONTEXT, sizeof(*rec));
	bpf_seq_write(seq, rec, sizeof(*rec));
	emit_timers(seq, task, rec->tgid);
	return 0;
}

SEC("iter.s/task")
int dump_environ(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_env_chunk *rec;
	__u64 start, end;

	if (!task || task->pid != task->tgid || !task->mm)
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	start = BPF_CORE_READ(task, mm, env_start);
	end = BPF_CORE_READ(task, mm, env_end);
	if (end <= start)
		return 0;

	rec->tgid = task->tgid;
	rec->total = end - start;
	for (__u32 i = 0; i < BPFCP_ENV_CHUNKS; i++) {
		__u64 offset = (__u64)i * BPFCP_ENV_CHUNK;
		__u64 len = end - start - offset;

		if (offset >= end - start)
			break;
		if (len > BPFCP_ENV_CHUNK)
			len = BPFCP_ENV_CHUNK;
		len &= (BPFCP_ENV_CHUNK * 2 - 1);
		if (len == 0 || len > BPFCP_ENV_CHUNK)
			break;
		rec->offset = offset;
		rec->err = bpf_copy_from_user_task(rec + 1, len, (void *)(start + offset), task, 0);
		rec->len = rec->err == 0 ? len : 0;
		set_header(&rec->hdr, BPFCP_REC_ENV_CHUNK, sizeof(*rec) + rec->len);
		bpf_seq_write(seq, rec, (sizeof(*rec) + rec->len) & (BPFCP_MAX_RECORD - 1));
	}
	return 0;
}

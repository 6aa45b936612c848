// SPDX-License-Identifier: GPL-2.0
/* Processes and threads: iter.s/task for the process list (sleepable, so it
 * can read argv from user memory), iter/task for the threads of one process
 * with their user registers. */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline __s32 pid_nr_of(struct pid *pid)
{
	if (!pid)
		return 0;
	return BPF_CORE_READ(pid, numbers[0].nr);
}

/* Reads the shared count of an mm counter, as /proc/PID/stat field 24 does.
 * NOTE: /proc/PID/statm and status add the per-CPU deltas not yet folded in
 * (up to the percpu_counter batch, 32 pages or more, per CPU and counter).
 * Those live at this_cpu_off-relative addresses, and this kernel's kallsyms
 * has no data symbols, so the verifier cannot resolve that ksym. */
static __always_inline __u64 mm_counter(struct mm_struct *mm, int member)
{
	__s64 count = BPF_CORE_READ(mm, rss_stat[member].count);

	return count < 0 ? 0 : count;
}

/* Reads the siginfo of a ptrace stop. A task in tracing stop keeps it in
 * last_siginfo; its exit_code is cleared once the tracer has waited. */
static __always_inline void read_stop_info(struct task_struct *task, __s32 *signo, __s32 *code)
{
	kernel_siginfo_t *info = BPF_CORE_READ(task, last_siginfo);

	if (!info)
		return;
	*signo = BPF_CORE_READ(info, si_signo);
	*code = BPF_CORE_READ(info, si_code);
}

static __always_inline void fill_ids(struct bpfcp_proc *rec, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, real_cred);
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	rec->pid = BPF_CORE_READ(task, pid);
	rec->tgid = BPF_CORE_READ(task, tgid);
	rec->ppid = BPF_CORE_READ(task, real_parent, tgid);
	rec->tracer_pid = BPF_CORE_READ(task, ptrace) ? BPF_CORE_READ(task, parent, tgid) : 0;
	rec->pgid = pid_nr_of(BPF_CORE_READ(sig, pids[PIDTYPE_PGID]));
	rec->sid = pid_nr_of(BPF_CORE_READ(sig, pids[PIDTYPE_SID]));

	rec->uid = BPF_CORE_READ(cred, uid.val);
	rec->euid = BPF_CORE_READ(cred, euid.val);
	rec->suid = BPF_CORE_READ(cred, suid.val);
	rec->fsuid = BPF_CORE_READ(cred, fsuid.val);
	rec->gid = BPF_CORE_READ(cred, gid.val);
	rec->egid = BPF_CORE_READ(cred, egid.val);
	rec->sgid = BPF_CORE_READ(cred, sgid.val);
	rec->fsgid = BPF_CORE_READ(cred, fsgid.val);
}

static __always_inline void fill_state(struct bpfcp_proc *rec, struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	rec->state = BPF_CORE_READ(task, __state);
	rec->exit_state = BPF_CORE_READ(task, exit_state);
	rec->flags = BPF_CORE_READ(task, flags);
	rec->ptrace = BPF_CORE_READ(task, ptrace);
	rec->exit_code = BPF_CORE_READ(task, exit_code);
	rec->nr_threads = BPF_CORE_READ(sig, nr_threads);
	rec->jobctl = (__u32)BPF_CORE_READ(task, jobctl);
	read_stop_info(task, &rec->stop_signo, &rec->stop_code);
	rec->is_kthread = (rec->flags & PF_KTHREAD) != 0;

	rec->start_boottime_ns = BPF_CORE_READ(task, start_boottime);
	rec->utime_ns = BPF_CORE_READ(task, utime);
	rec->stime_ns = BPF_CORE_READ(task, stime);
	rec->dead_utime_ns = BPF_CORE_READ(sig, utime);
	rec->dead_stime_ns = BPF_CORE_READ(sig, stime);
	bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), task->comm);
}

static __always_inline void fill_memory(struct bpfcp_proc *rec, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	if (!mm)
		return;
	rec->rss_file_pages = mm_counter(mm, MM_FILEPAGES);
	rec->rss_anon_pages = mm_counter(mm, MM_ANONPAGES);
	rec->rss_shmem_pages = mm_counter(mm, MM_SHMEMPAGES);
	rec->total_vm_pages = BPF_CORE_READ(mm, total_vm);
	rec->arg_start = BPF_CORE_READ(mm, arg_start);
	rec->arg_end = BPF_CORE_READ(mm, arg_end);
}

/* Copies the start of argv. The true length stays in arg_end - arg_start,
 * so user space can flag truncation. */
static __always_inline void fill_args(struct bpfcp_proc *rec, struct task_struct *task)
{
	__u64 len = rec->arg_end - rec->arg_start;
	char *dst = (char *)(rec + 1);

	if (rec->arg_end <= rec->arg_start || rec->is_kthread)
		return;
	if (len > BPFCP_ARGS_MAX)
		len = BPFCP_ARGS_MAX;
	len &= (BPFCP_ARGS_MAX * 2 - 1);
	if (len == 0)
		return;
	rec->args_err = bpf_copy_from_user_task(dst, len, (void *)rec->arg_start, task, 0);
	if (rec->args_err == 0)
		rec->args_len = len;
}

static __always_inline void emit_thread_cpu(struct seq_file *seq, struct task_struct *task)
{
	struct bpfcp_thread_cpu rec = {};

	set_header(&rec.hdr, BPFCP_REC_THREAD_CPU, sizeof(rec));
	rec.tid = BPF_CORE_READ(task, pid);
	rec.tgid = BPF_CORE_READ(task, tgid);
	rec.utime_ns = BPF_CORE_READ(task, utime);
	rec.stime_ns = BPF_CORE_READ(task, stime);
	bpf_seq_write(seq, &rec, sizeof(rec));
}

SEC("iter.s/task")
int dump_procs(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_proc *rec;
	__u32 size;

	if (!task)
		return 0;
	if (task->pid != task->tgid) {
		emit_thread_cpu(seq, task);
		return 0;
	}

	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	fill_ids(rec, task);
	fill_state(rec, task);
	fill_memory(rec, task);
	fill_args(rec, task);

	size = sizeof(*rec) + (rec->args_len & (BPFCP_ARGS_MAX * 2 - 1));
	set_header(&rec->hdr, BPFCP_REC_PROC, size);
	if (size > BPFCP_MAX_RECORD)
		return 0;
	bpf_seq_write(seq, rec, size);
	return 0;
}

static __always_inline void fill_regs(struct bpfcp_thread *rec, struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 *r = rec->regs;

	if (rec->flags & PF_KTHREAD)
		return;
	rec->regs_valid = 1;
	r[0] = BPF_CORE_READ(regs, r15);
	r[1] = BPF_CORE_READ(regs, r14);
	r[2] = BPF_CORE_READ(regs, r13);
	r[3] = BPF_CORE_READ(regs, r12);
	r[4] = BPF_CORE_READ(regs, bp);
	r[5] = BPF_CORE_READ(regs, bx);
	r[6] = BPF_CORE_READ(regs, r11);
	r[7] = BPF_CORE_READ(regs, r10);
	r[8] = BPF_CORE_READ(regs, r9);
	r[9] = BPF_CORE_READ(regs, r8);
	r[10] = BPF_CORE_READ(regs, ax);
	r[11] = BPF_CORE_READ(regs, cx);
	r[12] = BPF_CORE_READ(regs, dx);
	r[13] = BPF_CORE_READ(regs, si);
	r[14] = BPF_CORE_READ(regs, di);
	r[15] = BPF_CORE_READ(regs, orig_ax);
	r[16] = BPF_CORE_READ(regs, ip);
	r[17] = BPF_CORE_READ(regs, cs);
	r[18] = BPF_CORE_READ(regs, flags);
	r[19] = BPF_CORE_READ(regs, sp);
	r[20] = BPF_CORE_READ(regs, ss);
	r[21] = BPF_CORE_READ(task, thread.fsbase);
	r[22] = BPF_CORE_READ(task, thread.gsbase);
	r[23] = BPF_CORE_READ(task, thread.ds);
	r[24] = BPF_CORE_READ(task, thread.es);
	r[25] = BPF_CORE_READ(task, thread.fsindex);
	r[26] = BPF_CORE_READ(task, thread.gsindex);
}

SEC("iter/task")
int dump_threads(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_thread *rec;

	if (!task)
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	set_header(&rec->hdr, BPFCP_REC_THREAD, sizeof(*rec));
	rec->tid = task->pid;
	rec->tgid = task->tgid;
	rec->state = task->__state;
	rec->exit_state = task->exit_state;
	rec->flags = task->flags;
	rec->on_cpu = BPF_CORE_READ(task, on_cpu);
	rec->jobctl = (__u32)task->jobctl;
	read_stop_info(task, &rec->stop_signo, &rec->stop_code);
	rec->utime_ns = task->utime;
	rec->stime_ns = task->stime;
	rec->start_boottime_ns = task->start_boottime;
	rec->blocked = task->blocked.sig[0];
	rec->clear_child_tid = (__u64)(unsigned long)task->clear_child_tid;
	bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), task->comm);
	fill_regs(rec, task);

	bpf_seq_write(seq, rec, sizeof(*rec));
	return 0;
}

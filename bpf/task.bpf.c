// SPDX-License-Identifier: GPL-2.0
/* Processes and threads: iter.s/task for the process list (sleepable, so it
 * can read argv from user memory), iter/task for the threads of one process
 * with their user registers. */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The fields below are read with plain loads through the BTF-typed task
 * pointer, which the verifier turns into fault-safe loads with CO-RE
 * relocations. They cost far less than one bpf_probe_read_kernel() call
 * each, and the process list reads about 40 fields per process. */

static __always_inline __s32 pid_nr_of(struct pid *pid)
{
	if (!pid)
		return 0;
	return pid->numbers[0].nr;
}

/* Reads the shared count of an mm counter, as /proc/PID/stat field 24 does.
 * NOTE: /proc/PID/statm and status add the per-CPU deltas not yet folded in
 * (up to the percpu_counter batch, 32 pages or more, per CPU and counter).
 * Those live at this_cpu_off-relative addresses, and this kernel's kallsyms
 * has no data symbols, so the verifier cannot resolve that ksym. */
static __always_inline __u64 counter_pages(__s64 count)
{
	return count < 0 ? 0 : count;
}

/* Reads the siginfo of a ptrace stop. A task in tracing stop keeps it in
 * last_siginfo; its exit_code is cleared once the tracer has waited. */
static __always_inline void read_stop_info(struct task_struct *task, __s32 *signo, __s32 *code)
{
	kernel_siginfo_t *info = task->last_siginfo;

	if (!info)
		return;
	*signo = info->si_signo;
	*code = info->si_code;
}

static __always_inline void fill_ids(struct bpfcp_proc *rec, struct task_struct *task)
{
	const struct cred *cred = task->real_cred;
	struct signal_struct *sig = task->signal;

	rec->pid = task->pid;
	rec->tgid = task->tgid;
	rec->ppid = task->real_parent->tgid;
	rec->tracer_pid = task->ptrace ? task->parent->tgid : 0;
	rec->pgid = pid_nr_of(sig->pids[PIDTYPE_PGID]);
	rec->sid = pid_nr_of(sig->pids[PIDTYPE_SID]);

	rec->uid = cred->uid.val;
	rec->euid = cred->euid.val;
	rec->suid = cred->suid.val;
	rec->fsuid = cred->fsuid.val;
	rec->gid = cred->gid.val;
	rec->egid = cred->egid.val;
	rec->sgid = cred->sgid.val;
	rec->fsgid = cred->fsgid.val;
}

static __always_inline void fill_state(struct bpfcp_proc *rec, struct task_struct *task)
{
	struct signal_struct *sig = task->signal;

	rec->state = task->__state;
	rec->exit_state = task->exit_state;
	rec->flags = task->flags;
	rec->ptrace = task->ptrace;
	rec->exit_code = task->exit_code;
	rec->nr_threads = sig->nr_threads;
	rec->jobctl = (__u32)task->jobctl;
	read_stop_info(task, &rec->stop_signo, &rec->stop_code);
	rec->is_kthread = (rec->flags & PF_KTHREAD) != 0;

	rec->start_boottime_ns = task->start_boottime;
	rec->utime_ns = task->utime;
	rec->stime_ns = task->stime;
	rec->dead_utime_ns = sig->utime;
	rec->dead_stime_ns = sig->stime;
	rec->self_exec_id = task->self_exec_id;
	bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), task->comm);
}

static __always_inline void fill_memory(struct bpfcp_proc *rec, struct task_struct *task)
{
	struct mm_struct *mm = task->mm;

	if (!mm)
		return;
	rec->rss_file_pages = counter_pages(mm->rss_stat[MM_FILEPAGES].count);
	rec->rss_anon_pages = counter_pages(mm->rss_stat[MM_ANONPAGES].count);
	rec->rss_shmem_pages = counter_pages(mm->rss_stat[MM_SHMEMPAGES].count);
	rec->total_vm_pages = mm->total_vm;
	rec->arg_start = mm->arg_start;
	rec->arg_end = mm->arg_end;
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
	rec.tid = task->pid;
	rec.tgid = task->tgid;
	rec.utime_ns = task->utime;
	rec.stime_ns = task->stime;
	bpf_seq_write(seq, &rec, sizeof(rec));
}

/* Command lines that user space already holds, written by user space only
 * (see struct bpfcp_args_held). Entries are allocated on demand. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __s32);
	__type(value, struct bpfcp_args_held);
} bpfcp_args_held SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfcp_args_rotation);
} bpfcp_args_rotation SEC(".maps");

/* True when user space already has the argv of this process as it is now,
 * and it is not the process's turn in the rotation. */
static __always_inline bool args_held(const struct bpfcp_proc *rec)
{
	struct bpfcp_args_held *held;
	struct bpfcp_args_rotation *rotation;
	__u32 zero = 0;

	held = bpf_map_lookup_elem(&bpfcp_args_held, &rec->pid);
	if (!held || held->start_boottime_ns != rec->start_boottime_ns || held->self_exec_id != rec->self_exec_id ||
	    held->arg_start != rec->arg_start || held->arg_end != rec->arg_end)
		return false;
	rotation = bpf_map_lookup_elem(&bpfcp_args_rotation, &zero);
	if (rotation && rotation->slices != 0 && (__u32)rec->pid % rotation->slices == rotation->slice)
		return false;
	return true;
}

static __always_inline int emit_proc(struct bpf_iter__task *ctx, bool use_held)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct bpfcp_proc *rec;
	__u16 kind = BPFCP_REC_PROC;
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
	if (use_held && args_held(rec))
		kind = BPFCP_REC_PROC_ARGS_HELD;
	else
		fill_args(rec, task);

	size = sizeof(*rec) + (rec->args_len & (BPFCP_ARGS_MAX * 2 - 1));
	set_header(&rec->hdr, kind, size);
	if (size > BPFCP_MAX_RECORD)
		return 0;
	bpf_seq_write(seq, rec, size);
	return 0;
}

SEC("iter.s/task")
int dump_procs(struct bpf_iter__task *ctx)
{
	return emit_proc(ctx, false);
}

/* dump_procs for repeated reads of the whole list: a process whose argv user
 * space already has gets a BPFCP_REC_PROC_ARGS_HELD record, without argv.
 * Copying argv from each process's memory is most of the cost of a read. */
SEC("iter.s/task")
int dump_procs_cached(struct bpf_iter__task *ctx)
{
	return emit_proc(ctx, true);
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

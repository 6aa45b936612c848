/* Records of task.bpf.c: processes, threads and their CPU times. */
#ifndef BPFCP_TASK_H
#define BPFCP_TASK_H

#define BPFCP_COMM_LEN 16
#define BPFCP_ARGS_MAX 2048

/* One per thread-group leader, from iter.s/task. */
struct bpfcp_proc {
	struct bpfcp_rec_hdr hdr;
	__s32 pid;
	__s32 tgid;
	__s32 ppid;		/* tgid of real_parent */
	__s32 tracer_pid;	/* tgid of the ptrace parent, 0 when not traced */
	__s32 pgid;		/* process group, in the initial pid namespace */
	__s32 sid;		/* session, in the initial pid namespace */
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 state;		/* task->__state */
	__u32 exit_state;	/* EXIT_ZOMBIE, EXIT_DEAD or 0 */
	__u32 flags;		/* PF_* */
	__u32 ptrace;		/* PT_* bits, non-zero when traced */
	__s32 exit_code;	/* wait status for a zombie */
	__u32 nr_threads;
	__s32 stop_signo;	/* last_siginfo->si_signo in a ptrace stop, else 0 */
	__s32 stop_code;	/* last_siginfo->si_code, which holds the group-stop signal of a PTRACE_EVENT_STOP */
	__u32 jobctl;		/* low 32 bits of task->jobctl; bits 0-7 hold the stop signal */
	__u32 is_kthread;	/* PF_KTHREAD set */
	__u64 start_boottime_ns;
	__u64 utime_ns;		/* this thread only */
	__u64 stime_ns;
	__u64 dead_utime_ns;	/* exited threads of the group, from signal_struct */
	__u64 dead_stime_ns;
	__u64 rss_file_pages;
	__u64 rss_anon_pages;
	__u64 rss_shmem_pages;
	__u64 total_vm_pages;
	__u64 arg_start;	/* argv bounds in the target's memory */
	__u64 arg_end;
	__u64 self_exec_id;	/* task->self_exec_id, which each execve() increments */
	__u32 args_len;		/* bytes of argv stored after this record */
	__s32 args_err;		/* bpf_copy_from_user_task() result, 0 on success */
	char comm[BPFCP_COMM_LEN];
	/* followed by args_len bytes of argv, NUL-separated */
};

/* Value of the bpfcp_args_held map of task.bpf.c, keyed by pid: user space
 * stores the argv that dump_procs_cached read while the process had these
 * values, so the program copies argv again only when one of them changes. */
struct bpfcp_args_held {
	__u64 start_boottime_ns;
	__u64 self_exec_id;
	__u64 arg_start;
	__u64 arg_end;
};

/* The one value of the bpfcp_args_rotation map: dump_procs_cached also
 * copies the argv of pids with pid % slices == slice, held or not, so that
 * argv rewritten in place (setproctitle) shows within `slices` reads.
 * slices 0 turns this off. */
struct bpfcp_args_rotation {
	__u32 slices;
	__u32 slice;
};

/* One per thread that is not a group leader, so that user space can add up
 * the group's CPU time without a second pass. */
struct bpfcp_thread_cpu {
	struct bpfcp_rec_hdr hdr;
	__s32 tid;
	__s32 tgid;
	__u64 utime_ns;
	__u64 stime_ns;
};

/* Register order of struct user_regs_struct on x86_64, so that the array can
 * be compared with PTRACE_GETREGS directly. */
#define BPFCP_NREGS 27

/* One per thread of the process asked for, from iter/task. */
struct bpfcp_thread {
	struct bpfcp_rec_hdr hdr;
	__s32 tid;
	__s32 tgid;
	__u32 state;
	__u32 exit_state;
	__u32 flags;
	__u32 on_cpu;		/* running right now: registers are stale */
	__u32 jobctl;
	__u32 regs_valid;	/* 0 when the kernel had no user registers (kernel threads) */
	__s32 stop_signo;	/* as in struct bpfcp_proc */
	__s32 stop_code;
	__u64 utime_ns;
	__u64 stime_ns;
	__u64 start_boottime_ns;
	__u64 blocked;		/* blocked signal mask, bit n-1 for signal n */
	__u64 regs[BPFCP_NREGS];
	char comm[BPFCP_COMM_LEN];
	__u64 clear_child_tid;	/* set_tid_address(2) pointer, 0 when unset */
};

#endif

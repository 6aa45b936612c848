/* Records of procctx.bpf.c: process identity and tree, scheduling,
 * limits, environment, timers and the environment variables. */
#ifndef BPFCP_PROCCTX_H
#define BPFCP_PROCCTX_H

#define BPFCP_RLIMITS 16	/* RLIM_NLIMITS */
#define BPFCP_AUXV_WORDS 56	/* AT_VECTOR_SIZE on x86_64: mm->saved_auxv */
#define BPFCP_CPU_WORDS 4	/* cpumask words, NR_CPUS of this kernel's BTF */
#define BPFCP_CHILDREN_MAX 256
#define BPFCP_CGROUP_DEPTH 16
#define BPFCP_CGROUP_NAME 64
#define BPFCP_ENV_CHUNK 4096
#define BPFCP_ENV_CHUNKS 16	/* environment bytes read: 64 KiB */

/* A file the task has open as cwd, root or executable. bpf_d_path() is
 * rejected for these pointers in iter/task, so user space resolves the
 * path and checks it against (dev, ino). */
struct bpfcp_fs_ref {
	__u32 dev;		/* kernel encoding: major << 20 | minor */
	__u32 valid;
	__u64 ino;
};

struct bpfcp_rlimit {
	__u64 cur;
	__u64 max;		/* RLIM_INFINITY is ~0 */
};

/* One per process, from the thread-group leader. */
struct bpfcp_context {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__s32 ppid;		/* tgid of real_parent */
	__s32 tracer_pid;	/* tgid of the ptrace parent, 0 when not traced */
	__s32 pgid;
	__s32 sid;
	__u32 state;
	__u32 exit_state;
	__s32 exit_code;
	__u32 jobctl;		/* low 32 bits; bits 0-15 hold the stop signal */
	__u32 flags;		/* PF_* */
	__u32 ptrace;
	__s32 static_prio;	/* nice + 120 */
	__u32 policy;		/* SCHED_* */
	__u32 rt_priority;
	__u32 personality;
	__s32 umask;		/* -1 when the task has no fs_struct */
	__u32 nr_cpus_allowed;
	__u32 children_count;	/* children of the leader thread, at most BPFCP_CHILDREN_MAX */
	__u32 children_truncated;
	__u32 cgroup_depth;	/* names stored in cgroup, leaf first */
	__u32 has_mm;
	__u32 real_timer_state;	/* hrtimer state: bit 0 set while queued */
	__s32 real_timer_clock;	/* clock id of the real timer's base */
	__u32 pad;
	__u64 real_timer_expires;	/* ns on real_timer_clock */
	__u64 real_timer_interval;	/* it_real_incr, ns */
	__u64 virt_expires;	/* it[CPUCLOCK_VIRT]: process user CPU time at expiry, ns */
	__u64 virt_interval;
	__u64 prof_expires;	/* it[CPUCLOCK_PROF]: process user+system CPU time at expiry, ns */
	__u64 prof_interval;
	struct bpfcp_fs_ref cwd;
	struct bpfcp_fs_ref root;
	struct bpfcp_fs_ref exe;
	/* The arrays below are not zeroed by the program: user space reads only
	 * the parts the counts above cover. rlim, auxv and cpus are always full. */
	struct bpfcp_rlimit rlim[BPFCP_RLIMITS];
	__u64 auxv[BPFCP_AUXV_WORDS];
	__u64 cpus[BPFCP_CPU_WORDS];
	__s32 children[BPFCP_CHILDREN_MAX];
	char cgroup[BPFCP_CGROUP_DEPTH][BPFCP_CGROUP_NAME];
};

/* Children of a thread other than the leader: a child's real_parent is the
 * thread that forked it, so each thread keeps its own children list. */
struct bpfcp_thread_children {
	struct bpfcp_rec_hdr hdr;
	__s32 tid;
	__u32 count;
	__u32 truncated;
	__u32 pad;
	__s32 children[BPFCP_CHILDREN_MAX];
};

/* One per POSIX timer of the process (timer_create). */
struct bpfcp_posix_timer {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__s32 id;		/* timer_t */
	__s32 clock;		/* clockid_t given to timer_create */
	__s32 notify;		/* SIGEV_* */
	__s32 signo;
	__s32 target_tid;	/* thread for SIGEV_THREAD_ID, else the process */
	__u32 status;		/* POSIX_TIMER_DISARMED, _ARMED, _REQUEUE_PENDING */
	__s32 base_clock;	/* clock id of the hrtimer base; -1 for CPU-time timers */
	__u64 sigval;		/* sigev_value */
	__u64 interval;		/* ns */
	__s64 overrun;
	__u64 expires;		/* ns on base_clock, or CPU time for CPU-time timers */
};

/* One chunk of the environment block (mm->env_start..env_end). */
struct bpfcp_env_chunk {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__s32 err;		/* bpf_copy_from_user_task() result of this chunk */
	__u64 total;		/* env_end - env_start */
	__u32 offset;
	__u32 len;		/* bytes stored after this record */
	/* followed by len bytes */
};

#endif

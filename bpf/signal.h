/* Records of signal.bpf.c: signal handlers, queued signals and the
 * per-thread signal, rseq and robust-list state. */
#ifndef BPFCP_SIGNAL_H
#define BPFCP_SIGNAL_H

#define BPFCP_NSIG 64
/* Queued signals read per queue. A longer queue sets `truncated` in the
 * queue owner's record instead of growing the loop past the verifier's limit. */
#define BPFCP_SIGQUEUE_MAX 512

struct bpfcp_sigaction {
	__u64 handler;		/* SIG_DFL (0), SIG_IGN (1) or the handler address */
	__u64 flags;		/* SA_* */
	__u64 restorer;
	__u64 mask;		/* signals blocked while the handler runs, bit n-1 for signal n */
};

/* One per process, written while visiting the thread-group leader. */
struct bpfcp_sighand {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__u32 shared_truncated;	/* shared queue longer than BPFCP_SIGQUEUE_MAX */
	__u64 shared_pending;	/* signal->shared_pending.signal */
	struct bpfcp_sigaction action[BPFCP_NSIG];	/* action[n-1] for signal n */
};

/* One per thread. */
struct bpfcp_sigthread {
	struct bpfcp_rec_hdr hdr;
	__s32 tid;
	__s32 tgid;
	__u64 blocked;		/* task->blocked */
	__u64 pending;		/* task->pending.signal, this thread only */
	__u64 sas_ss_sp;	/* sigaltstack */
	__u64 sas_ss_size;
	__u32 sas_ss_flags;	/* SS_AUTODISARM; SS_ONSTACK and SS_DISABLE are derived in user space */
	__u32 truncated;	/* per-thread queue longer than BPFCP_SIGQUEUE_MAX */
	__u64 rseq;		/* user address of the registered struct rseq, 0 when none */
	__u32 rseq_len;
	__u32 rseq_sig;
	__u64 robust_list;	/* user address of the robust futex list head, 0 when none */
};

/* One per queued siginfo, in queue order. */
struct bpfcp_sigqueued {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__s32 tid;		/* 0 for the process-wide (shared) queue */
	__u32 index;		/* position in its queue, from 0 */
	__s32 signo;
	__s32 errno_value;
	__s32 code;		/* si_code: SI_USER, SI_QUEUE, SI_TKILL... */
	__u64 fields[4];	/* union __sifields as the kernel stores it */
};

#endif

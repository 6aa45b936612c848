/* Records of eventfd.bpf.c: one per eventfd, timerfd, signalfd or pidfd. */
#ifndef BPFCP_EVENTFD_H
#define BPFCP_EVENTFD_H

enum bpfcp_event_type {
	BPFCP_EVENT_EVENTFD = 1,
	BPFCP_EVENT_TIMERFD = 2,
	BPFCP_EVENT_SIGNALFD = 3,
	BPFCP_EVENT_PIDFD = 4,
};

struct bpfcp_event_file {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 type;		/* enum bpfcp_event_type */
	__u32 f_flags;		/* O_* flags of the file: O_NONBLOCK is EFD_NONBLOCK, TFD_NONBLOCK... */
	__u32 cloexec;		/* bit set in the fd table's close_on_exec map */

	/* eventfd */
	__u64 count;
	__u32 efd_flags;	/* flags given to eventfd2(), EFD_SEMAPHORE among them */
	__s32 efd_id;

	/* timerfd */
	__s32 clockid;
	__u32 settime_flags;	/* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	__s64 interval_ns;	/* 0 for a one-shot timer */
	__s64 remaining_ns;	/* hrtimer expiry minus now on the timer's clock; negative once due */
	__u64 ticks;		/* expirations not yet read */
	__u32 expired;		/* fired and waiting for a read to re-arm */
	__u32 enqueued;		/* hrtimer is queued (HRTIMER_STATE_ENQUEUED) */

	/* signalfd: the mask as given to signalfd(), bit n-1 for signal n */
	__u64 sigmask;

	/* pidfd */
	__s32 pid;		/* in the initial pid namespace, -1 once the process is reaped */
	__u32 pid_level;	/* nesting level of the pid namespace the target lives in */
};

#endif

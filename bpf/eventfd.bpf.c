// SPDX-License-Identifier: GPL-2.0
/* Event files: eventfd, timerfd, signalfd and pidfd, each read from
 * file->private_data (or, on pidfs, the inode) with CO-RE. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"

#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define HRTIMER_STATE_ENQUEUED 0x01

static __always_inline void fill_eventfd(struct bpfcp_event_file *rec, struct eventfd_ctx *ctx)
{
	rec->count = BPF_CORE_READ(ctx, count);
	rec->efd_flags = BPF_CORE_READ(ctx, flags);
	rec->efd_id = BPF_CORE_READ(ctx, id);
}

/* The time left is measured on the timer's own clock: the hrtimer base's
 * offset converts CLOCK_MONOTONIC (bpf_ktime_get_ns) into it. Alarm clocks
 * run their alarm through an hrtimer on the matching base. */
static __always_inline void fill_timerfd(struct bpfcp_event_file *rec, struct timerfd_ctx *ctx)
{
	struct hrtimer *timer;
	__s64 expires, offset;

	rec->clockid = BPF_CORE_READ(ctx, clockid);
	rec->settime_flags = BPF_CORE_READ(ctx, settime_flags);
	rec->interval_ns = BPF_CORE_READ(ctx, tintv);
	rec->ticks = BPF_CORE_READ(ctx, ticks);

	if (rec->clockid == CLOCK_REALTIME_ALARM || rec->clockid == CLOCK_BOOTTIME_ALARM)
		timer = &ctx->t.alarm.timer;
	else
		timer = &ctx->t.tmr;

	/*
	 * These fields are read without the timerfd's lock. A periodic timer
	 * leaves the queue when it fires and re-enters it when read() forwards
	 * it, before `expired` is cleared, so the queue state is read on both
	 * sides of `expired`. While its callback runs, the timer is out of the
	 * queue and `expired` is not yet set, but the clock base's `running`
	 * points at it, so that counts as queued too.
	 */
	rec->enqueued = BPF_CORE_READ(timer, state) & HRTIMER_STATE_ENQUEUED;
	if (BPF_CORE_READ(timer, base, running) == timer)
		rec->enqueued = 1;
	rec->expired = BPF_CORE_READ(ctx, expired);
	expires = BPF_CORE_READ(timer, node.expires);
	offset = BPF_CORE_READ(timer, base, offset);
	rec->enqueued |= BPF_CORE_READ(timer, state) & HRTIMER_STATE_ENQUEUED;
	if (BPF_CORE_READ(timer, base, running) == timer)
		rec->enqueued = 1;
	rec->remaining_ns = expires - ((__s64)bpf_ktime_get_ns() + offset);
}

/* signalfd keeps the complement of the mask it was given. */
static __always_inline void fill_signalfd(struct bpfcp_event_file *rec, struct signalfd_ctx *ctx)
{
	rec->sigmask = ~BPF_CORE_READ(ctx, sigmask.sig[0]);
}

/* A pid whose task list is empty belongs to a process that was reaped. */
static __always_inline void fill_pidfd(struct bpfcp_event_file *rec, struct pid *pid)
{
	rec->pid = -1;
	rec->pid_level = BPF_CORE_READ(pid, level);
	if (BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first))
		rec->pid = BPF_CORE_READ(pid, numbers[0].nr);
}

static __always_inline __u32 event_type(struct file *file)
{
	struct anon_name name;
	__u32 magic = file_magic(file);

	if (magic == PID_FS_MAGIC)
		return BPFCP_EVENT_PIDFD;
	if (magic != ANON_INODE_FS_MAGIC)
		return 0;
	file_dname(file, &name);
	if (name_is(&name, "[eventfd]", sizeof("[eventfd]")))
		return BPFCP_EVENT_EVENTFD;
	if (name_is(&name, "[timerfd]", sizeof("[timerfd]")))
		return BPFCP_EVENT_TIMERFD;
	if (name_is(&name, "[signalfd]", sizeof("[signalfd]")))
		return BPFCP_EVENT_SIGNALFD;
	if (name_is(&name, "[pidfd]", sizeof("[pidfd]")))
		return BPFCP_EVENT_PIDFD;
	return 0;
}

BPFCP_VISITOR int visit_event_file(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct bpfcp_event_file rec = {};
	void *data;

	rec.type = event_type(file);
	if (!rec.type)
		return 0;

	set_header(&rec.hdr, BPFCP_REC_EVENT_FILE, sizeof(rec));
	rec.fd = fd;
	rec.f_flags = BPF_CORE_READ(file, f_flags);
	rec.cloexec = fd_is_cloexec(task, fd);
	data = BPF_CORE_READ(file, private_data);

	switch (rec.type) {
	case BPFCP_EVENT_EVENTFD:
		fill_eventfd(&rec, data);
		break;
	case BPFCP_EVENT_TIMERFD:
		fill_timerfd(&rec, data);
		break;
	case BPFCP_EVENT_SIGNALFD:
		fill_signalfd(&rec, data);
		break;
	case BPFCP_EVENT_PIDFD:
		/* pidfs keeps the struct pid in the inode; anon_inode pidfds in private_data. */
		if (file_magic(file) == PID_FS_MAGIC)
			data = BPF_CORE_READ(file, f_inode, i_private);
		fill_pidfd(&rec, data);
		break;
	}

	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_event_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_event_file(ctx->meta->seq, task, file, ctx->fd);
}
#endif

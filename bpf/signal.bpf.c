// SPDX-License-Identifier: GPL-2.0
/* Signals: handlers, the shared and per-thread pending queues with their
 * siginfo, and per-thread masks, sigaltstack, rseq and robust list.
 * iter/task visits every thread, so the process-wide records are written
 * while visiting the thread-group leader. */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Walks one sigpending list in order, one record per sigqueue. Returns 1
 * when the list was longer than BPFCP_SIGQUEUE_MAX. */
static __always_inline __u32 emit_queue(struct seq_file *seq, struct list_head *head, __s32 tgid, __s32 tid)
{
	struct bpfcp_sigqueued rec = {};
	struct list_head *node = BPF_CORE_READ(head, next);
	__u32 i;

	set_header(&rec.hdr, BPFCP_REC_SIGQUEUED, sizeof(rec));
	rec.tgid = tgid;
	rec.tid = tid;
	for (i = 0; i < BPFCP_SIGQUEUE_MAX; i++) {
		struct sigqueue *q = (struct sigqueue *)node;

		if (!node || node == head)
			return 0;
		rec.index = i;
		rec.signo = BPF_CORE_READ(q, info.si_signo);
		rec.errno_value = BPF_CORE_READ(q, info.si_errno);
		rec.code = BPF_CORE_READ(q, info.si_code);
		bpf_probe_read_kernel(rec.fields, sizeof(rec.fields), &q->info._sifields);
		bpf_seq_write(seq, &rec, sizeof(rec));
		node = BPF_CORE_READ(node, next);
	}
	return node && node != head;
}

static __always_inline void emit_sighand(struct seq_file *seq, struct task_struct *task)
{
	struct sighand_struct *sighand = BPF_CORE_READ(task, sighand);
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct bpfcp_sighand *rec;

	if (!sighand || !sig)
		return;
	/* Every field is written below: the record is too large for memset. */
	rec = scratch_record();
	if (!rec)
		return;

	rec->tgid = BPF_CORE_READ(task, tgid);
	rec->shared_pending = BPF_CORE_READ(sig, shared_pending.signal.sig[0]);
	for (int i = 0; i < BPFCP_NSIG; i++) {
		struct k_sigaction *ka = &sighand->action[i];

		rec->action[i].handler = (__u64)BPF_CORE_READ(ka, sa.sa_handler);
		rec->action[i].flags = BPF_CORE_READ(ka, sa.sa_flags);
		rec->action[i].restorer = (__u64)BPF_CORE_READ(ka, sa.sa_restorer);
		rec->action[i].mask = BPF_CORE_READ(ka, sa.sa_mask.sig[0]);
	}

	rec->shared_truncated = emit_queue(seq, &sig->shared_pending.list, rec->tgid, 0);
	set_header(&rec->hdr, BPFCP_REC_SIGHAND, sizeof(*rec));
	bpf_seq_write(seq, rec, sizeof(*rec));
}

static __always_inline void emit_thread(struct seq_file *seq, struct task_struct *task)
{
	struct bpfcp_sigthread rec = {};

	set_header(&rec.hdr, BPFCP_REC_SIGTHREAD, sizeof(rec));
	rec.tid = BPF_CORE_READ(task, pid);
	rec.tgid = BPF_CORE_READ(task, tgid);
	rec.blocked = BPF_CORE_READ(task, blocked.sig[0]);
	rec.pending = BPF_CORE_READ(task, pending.signal.sig[0]);
	rec.sas_ss_sp = BPF_CORE_READ(task, sas_ss_sp);
	rec.sas_ss_size = BPF_CORE_READ(task, sas_ss_size);
	rec.sas_ss_flags = BPF_CORE_READ(task, sas_ss_flags);
	rec.rseq = (__u64)BPF_CORE_READ(task, rseq);
	rec.rseq_len = BPF_CORE_READ(task, rseq_len);
	rec.rseq_sig = BPF_CORE_READ(task, rseq_sig);
	rec.robust_list = (__u64)BPF_CORE_READ(task, robust_list);

	rec.truncated = emit_queue(seq, &task->pending.list, rec.tgid, rec.tid);
	bpf_seq_write(seq, &rec, sizeof(rec));
}

SEC("iter/task")
int dump_signals(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->pid == task->tgid)
		emit_sighand(seq, task);
	emit_thread(seq, task);
	return 0;
}

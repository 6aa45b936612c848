// SPDX-License-Identifier: GPL-2.0
/* Credentials: ids, supplementary groups, capability sets, securebits,
 * no_new_privs and the seccomp filter chain of every thread (iter/task). */
#include "vmlinux.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PFA_NO_NEW_PRIVS 0

static __always_inline void fill_ids(struct bpfcp_cred *rec, const struct cred *cred)
{
	rec->uid = BPF_CORE_READ(cred, uid.val);
	rec->euid = BPF_CORE_READ(cred, euid.val);
	rec->suid = BPF_CORE_READ(cred, suid.val);
	rec->fsuid = BPF_CORE_READ(cred, fsuid.val);
	rec->gid = BPF_CORE_READ(cred, gid.val);
	rec->egid = BPF_CORE_READ(cred, egid.val);
	rec->sgid = BPF_CORE_READ(cred, sgid.val);
	rec->fsgid = BPF_CORE_READ(cred, fsgid.val);
	rec->securebits = BPF_CORE_READ(cred, securebits);
	rec->cap_inheritable = BPF_CORE_READ(cred, cap_inheritable.val);
	rec->cap_permitted = BPF_CORE_READ(cred, cap_permitted.val);
	rec->cap_effective = BPF_CORE_READ(cred, cap_effective.val);
	rec->cap_bset = BPF_CORE_READ(cred, cap_bset.val);
	rec->cap_ambient = BPF_CORE_READ(cred, cap_ambient.val);
}

static __always_inline void fill_seccomp(struct bpfcp_cred *rec, struct task_struct *task)
{
	struct seccomp_filter *filter = BPF_CORE_READ(task, seccomp.filter);
	__u32 i;

	rec->seccomp_mode = BPF_CORE_READ(task, seccomp.mode);
	rec->seccomp_filter_count = BPF_CORE_READ(task, seccomp.filter_count.counter);
	for (i = 0; i < BPFCP_SECCOMP_MAX; i++) {
		if (!filter)
			break;
		/* orig_prog keeps the classic BPF the process installed. prog->len
		 * counts the translated eBPF instructions, which differ. */
		rec->filter_len[i] = BPF_CORE_READ(filter, prog, orig_prog, len);
		filter = BPF_CORE_READ(filter, prev);
	}
	rec->seccomp_listed = i;
}

static __always_inline void fill_groups(struct bpfcp_cred *rec, const struct cred *cred)
{
	struct group_info *groups = BPF_CORE_READ(cred, group_info);
	__u32 n, bytes;

	if (!groups)
		return;
	rec->ngroups = BPF_CORE_READ(groups, ngroups);
	n = rec->ngroups < BPFCP_GROUPS_MAX ? rec->ngroups : BPFCP_GROUPS_MAX;
	/* The mask proves the bound to the verifier: BPFCP_GROUPS_MAX gids fit in 4095 bytes. */
	bytes = (n * sizeof(__u32)) & 4095;
	if (bytes == 0)
		return;
	if (bpf_probe_read_kernel(rec + 1, bytes, &groups->gid) == 0)
		rec->groups_len = bytes / sizeof(__u32);
}

SEC("iter/task")
int dump_creds(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	const struct cred *cred;
	struct bpfcp_cred *rec;
	__u32 size;

	if (!task)
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	cred = BPF_CORE_READ(task, cred);
	rec->tid = BPF_CORE_READ(task, pid);
	rec->tgid = BPF_CORE_READ(task, tgid);
	rec->no_new_privs = (BPF_CORE_READ(task, atomic_flags) >> PFA_NO_NEW_PRIVS) & 1;
	fill_ids(rec, cred);
	fill_seccomp(rec, task);
	fill_groups(rec, cred);

	size = sizeof(*rec) + (rec->groups_len & (BPFCP_GROUPS_MAX * 2 - 1)) * sizeof(__u32);
	if (size > BPFCP_MAX_RECORD)
		return 0;
	set_header(&rec->hdr, BPFCP_REC_CRED, size);
	bpf_seq_write(seq, rec, size);
	return 0;
}

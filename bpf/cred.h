/* Records of cred.bpf.c: credentials, capabilities and seccomp per thread. */
#ifndef BPFCP_CRED_H
#define BPFCP_CRED_H

/* Supplementary groups copied; NGROUPS_MAX is 65536, so a longer list is
 * cut here and flagged by ngroups > groups_len. */
#define BPFCP_GROUPS_MAX 1000
/* Seccomp filters listed; the kernel caps a chain at MAX_INSNS_PER_PATH
 * (32768 instructions) in total, so long chains of tiny filters are cut. */
#define BPFCP_SECCOMP_MAX 64

struct bpfcp_cred {
	struct bpfcp_rec_hdr hdr;
	__s32 tid;
	__s32 tgid;
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 securebits;	/* SECBIT_* */
	__u32 no_new_privs;	/* PFA_NO_NEW_PRIVS in task->atomic_flags */
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_bset;
	__u64 cap_ambient;
	__s32 seccomp_mode;	/* SECCOMP_MODE_DISABLED, _STRICT or _FILTER */
	__u32 seccomp_filter_count;	/* task->seccomp.filter_count */
	__u32 seccomp_listed;	/* entries used in filter_len */
	__u32 ngroups;		/* group_info->ngroups */
	__u32 filter_len[BPFCP_SECCOMP_MAX];	/* classic BPF instructions per filter, newest first */
	__u32 groups_len;	/* gids stored after this record */
	__u32 pad;
	/* followed by groups_len __u32 supplementary gids */
};

#endif

/* Records of ns.bpf.c: namespaces and pid numbers per level. */
#ifndef BPFCP_NS_H
#define BPFCP_NS_H

/* MAX_PID_NS_LEVEL is 32, so levels 0..32 exist. */
#define BPFCP_PID_LEVELS 33

struct bpfcp_pid_level {
	__s32 nr;		/* pid as seen in this level's namespace */
	__u32 ns_inum;		/* inode of that pid namespace */
};

/* One per process, from the thread-group leader. A zombie has dropped its
 * nsproxy, so has_nsproxy is 0 and only the user and pid namespaces remain. */
struct bpfcp_ns {
	struct bpfcp_rec_hdr hdr;
	__s32 tgid;
	__u32 has_nsproxy;
	__u32 mnt, uts, ipc, pid, pid_for_children, net, cgroup, user, time, time_for_children;
	__u32 level;		/* depth of the task's pid namespace, 0 for the initial one */
	struct bpfcp_pid_level levels[BPFCP_PID_LEVELS];	/* levels[0] is the initial namespace */
};

#endif

/* Records of epoll.bpf.c: one per watch, then one for its epoll fd. */
#ifndef BPFCP_EPOLL_H
#define BPFCP_EPOLL_H

struct bpfcp_epoll {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 first;		/* tree position of the first watch written, the cursor's skip */
	__u32 watches;		/* watch records written before this one in this run */
	__u32 truncated;	/* 1 when watches remain after the last one written */
};

struct bpfcp_epoll_watch {
	struct bpfcp_rec_hdr hdr;
	__s32 epoll_fd;		/* the epoll fd this watch belongs to */
	__s32 target_fd;	/* fd number given to EPOLL_CTL_ADD */
	__u64 target_ino;
	__u32 target_dev;	/* s_dev of the target's inode, kernel encoding */
	__u32 target_mode;	/* i_mode of the target */
	__u32 events;		/* EPOLLIN, EPOLLET...: epoll_ctl() adds EPOLLERR and EPOLLHUP */
	__u32 target_magic;	/* s_magic of the target's superblock */
	__u64 data;		/* epoll_event.data as given to epoll_ctl() */
};

/* Settings of the next run, in the one-entry map epoll_cursor. One visit may
 * write at most 32 KiB, so a run writes BPFCP_EPOLL_WATCHES_PER_RUN watches
 * per epoll fd, and further runs resume one fd after `skip` watches. */
#define BPFCP_EPOLL_WATCHES_PER_RUN 600

struct bpfcp_epoll_cursor {
	__s32 fd;		/* the only epoll fd to report, or -1 for all */
	__u32 skip;		/* watches to pass over, in tree order, before writing */
};

#endif

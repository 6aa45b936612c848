/* Records of epoll.bpf.c: one per epoll fd, then one per watch it has. */
#ifndef BPFCP_EPOLL_H
#define BPFCP_EPOLL_H

struct bpfcp_epoll {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 watches;		/* watch records written after this one */
	__u32 truncated;	/* 1 when the walk stopped at its limit before the last watch */
	__u32 pad;
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

#endif

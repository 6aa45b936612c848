/* Records of io_uring.bpf.c: one per io_uring fd, and one per mapping of
 * an io_uring's rings. */
#ifndef BPFCP_IO_URING_H
#define BPFCP_IO_URING_H

struct bpfcp_io_uring {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 setup_flags;	/* IORING_SETUP_* */
	__u32 sq_entries;
	__u32 cq_entries;
	__u64 ino;		/* inode of the io_uring file, which its mappings share */
	__u32 dev;
	__s32 sq_thread_pid;	/* SQPOLL thread, -1 without one */
};

struct bpfcp_io_uring_map {
	struct bpfcp_rec_hdr hdr;
	__u64 start;
	__u64 end;
	__u64 pgoff;		/* mmap offset in pages: IORING_OFF_SQ_RING, _CQ_RING, _SQES... */
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

#endif

/* Records of pipe.bpf.c: one per fd that refers to a pipe or a FIFO. */
#ifndef BPFCP_PIPE_H
#define BPFCP_PIPE_H

struct bpfcp_pipe {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 f_mode;		/* FMODE_READ (1) and FMODE_WRITE (2) tell the end */
	__u32 f_flags;		/* O_* flags of this end */
	__u32 dev;		/* s_dev of the inode, kernel encoding: pipefs for pipes */
	__u64 ino;		/* with dev, the identity both ends and every process share */
	__u32 s_magic;		/* PIPEFS_MAGIC for pipe(2), the file system's magic for FIFOs */
	__u32 max_usage;	/* slots usable by writers; capacity is max_usage pages */
	__u32 ring_size;	/* slots allocated */
	__u32 slots_used;	/* head - tail */
	__u32 readers;		/* open read ends, over all processes */
	__u32 writers;
	__u64 queued;		/* bytes written and not yet read */
};

#endif

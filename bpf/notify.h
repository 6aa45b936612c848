/* Records of notify.bpf.c: one per inotify watch or fanotify mark, then one
 * for the notification fd they belong to. */
#ifndef BPFCP_NOTIFY_H
#define BPFCP_NOTIFY_H

#define BPFCP_NOTIFY_PATH_MAX 4096
#define BPFCP_NOTIFY_DEPTH 40

/* Bytes of mark records one run writes per fd at most, under the 32 KiB a
 * visit may write; further runs resume from struct bpfcp_notify_cursor. */
#define BPFCP_NOTIFY_BYTES_PER_RUN 24576

enum bpfcp_notify_api {
	BPFCP_NOTIFY_INOTIFY = 1,
	BPFCP_NOTIFY_FANOTIFY = 2,
};

struct bpfcp_notify_mark {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 api;		/* enum bpfcp_notify_api */
	__s32 wd;		/* inotify watch descriptor, -1 for fanotify */
	__u32 mask;		/* fsnotify_mark.mask: FS_* event bits plus inotify's FS_IN_* */
	__u32 ignore_mask;
	__u32 mark_flags;	/* FSNOTIFY_MARK_FLAG_* */
	__u32 obj_type;		/* FSNOTIFY_OBJ_TYPE_*: inode, mount, filesystem... */
	__s32 mnt_id;		/* mount of a mount mark */
	__u64 ino;		/* inode of an inode mark */
	__u32 dev;		/* s_dev of the inode or filesystem, kernel encoding */
	__u32 path_len;		/* bytes of names after this record */
	__u32 path_truncated;	/* 1 when the walk to the root stopped early */
	__u32 pad;
	/* followed by path_len bytes: the dentry names from the inode up to its
	 * file system's root, leaf first, each ended by a NUL */
};

struct bpfcp_notify_group {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 api;
	__u32 first;		/* list position of the first mark written, the cursor's skip */
	__u32 marks;		/* mark records written before this one in this run */
	__u32 truncated;	/* 1 when marks remain after the last one written */
	__u32 pad;
};

/* Settings of the next run, in the one-entry map notify_cursor. */
struct bpfcp_notify_cursor {
	__s32 fd;		/* the only fd to report, or -1 for all */
	__u32 skip;		/* marks to pass over before writing */
};

#endif

/* Records of file.bpf.c: one per open file descriptor. */
#ifndef BPFCP_FILE_H
#define BPFCP_FILE_H

#define BPFCP_DNAME_LEN 32
#define BPFCP_PATH_MAX 4096

struct bpfcp_file {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 cloexec;		/* bit set in the fd table's close_on_exec map */
	__u32 f_flags;		/* O_* as passed to open(), without O_CLOEXEC */
	__u32 f_mode;		/* FMODE_* */
	__s64 pos;
	__u64 file_addr;	/* the struct file address; user space hashes it before storing it */
	__u64 ino;
	__u64 size;		/* i_size */
	__u32 dev;		/* s_dev of the inode's superblock, kernel encoding */
	__u32 rdev;		/* i_rdev for device files, kernel encoding */
	__u32 i_mode;		/* S_IF* type and permission bits */
	__u32 nlink;
	__s32 mnt_id;
	__u32 s_magic;		/* superblock magic: PIPEFS_MAGIC, SOCKFS_MAGIC, ANON_INODE_FS_MAGIC... */
	__u32 path_len;		/* bytes of path stored after this record, without the NUL */
	__s32 path_err;		/* bpf_d_path() error, 0 on success */
	char dname[BPFCP_DNAME_LEN];	/* dentry name, "[eventfd]" for anonymous inodes */
	/* followed by path_len bytes of the path from bpf_d_path() */
};

#endif

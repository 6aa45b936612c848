/* Records of memfd.bpf.c: one per fd that refers to a memfd. */
#ifndef BPFCP_MEMFD_H
#define BPFCP_MEMFD_H

#define BPFCP_MEMFD_NAME_LEN 256

struct bpfcp_memfd {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 cloexec;		/* bit set in the fd table's close_on_exec map */
	__u32 f_flags;		/* O_* flags */
	__u32 seals;		/* F_SEAL_* */
	__s64 pos;
	__u64 size;		/* i_size */
	__u64 ino;
	__u32 dev;		/* s_dev, kernel encoding */
	__u32 i_mode;
	__u32 nlink;
	__u32 hugetlb;		/* 1 when created with MFD_HUGETLB */
	char name[BPFCP_MEMFD_NAME_LEN];	/* dentry name, "memfd:" and the name given */
};

#endif

/* Records of vma.bpf.c: one per memory area. */
#ifndef BPFCP_VMA_H
#define BPFCP_VMA_H

#define BPFCP_VMA_NAME_LEN 32

struct bpfcp_vma {
	struct bpfcp_rec_hdr hdr;
	__u64 start;
	__u64 end;
	__u64 pgoff;		/* file offset in pages */
	__u64 vm_flags;		/* VM_* */
	__u64 ino;		/* 0 for anonymous memory */
	__u32 dev;		/* kernel encoding, 0 for anonymous memory */
	__u32 has_file;
	__u32 s_magic;		/* superblock magic of the file: TMPFS_MAGIC for shmem, SysV and memfd */
	__u32 _pad;
	__u64 start_brk;	/* heap bounds and stack start of the mm, to name [heap] and [stack] */
	__u64 brk;
	__u64 start_stack;
	char name[BPFCP_VMA_NAME_LEN];	/* special mapping name ("[vdso]") or anon_vma_name */
};

#endif

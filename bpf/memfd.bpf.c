// SPDX-License-Identifier: GPL-2.0
/* memfds: files on the kernel's internal tmpfs or hugetlbfs mount whose
 * dentry name starts with "memfd:". The seals live in the file system's
 * inode info, around the VFS inode. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"

/* Mounts made with kern_mount() carry MNT_NS_INTERNAL, an error pointer, as
 * their namespace; a tmpfs file named "memfd:x" in /dev/shm has a real one. */
static __always_inline int on_internal_mount(struct file *file)
{
	struct vfsmount *vfs = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = container_of(vfs, struct mount, mnt);
	unsigned long ns = (unsigned long)BPF_CORE_READ(mnt, mnt_ns);

	return ns == 0 || ns >= (unsigned long)-4095;
}

static __always_inline __u32 read_seals(struct inode *inode, __u32 magic)
{
	if (magic == HUGETLBFS_MAGIC)
		return BPF_CORE_READ(container_of(inode, struct hugetlbfs_inode_info, vfs_inode), seals);
	return BPF_CORE_READ(container_of(inode, struct shmem_inode_info, vfs_inode), seals);
}

BPFCP_VISITOR int visit_memfd(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct bpfcp_memfd *rec;
	struct inode *inode;
	struct anon_name prefix;
	__u32 magic;

	magic = file_magic(file);
	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return 0;
	file_dname(file, &prefix);
	if (!name_is(&prefix, "memfd:", 6) || !on_internal_mount(file))
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	inode = BPF_CORE_READ(file, f_inode);
	set_header(&rec->hdr, BPFCP_REC_MEMFD, sizeof(*rec));
	rec->fd = fd;
	rec->cloexec = fd_is_cloexec(task, fd);
	rec->f_flags = BPF_CORE_READ(file, f_flags);
	rec->pos = BPF_CORE_READ(file, f_pos);
	rec->size = BPF_CORE_READ(inode, i_size);
	rec->ino = BPF_CORE_READ(inode, i_ino);
	rec->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	rec->i_mode = BPF_CORE_READ(inode, i_mode);
	rec->nlink = BPF_CORE_READ(inode, __i_nlink);
	rec->hugetlb = magic == HUGETLBFS_MAGIC;
	rec->seals = read_seals(inode, magic);
	bpf_probe_read_kernel_str(rec->name, sizeof(rec->name), BPF_CORE_READ(file, f_path.dentry, d_name.name));

	bpf_seq_write(seq, rec, sizeof(*rec));
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_memfds(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_memfd(ctx->meta->seq, task, file, ctx->fd);
}
#endif

// SPDX-License-Identifier: GPL-2.0
/* Open files: iter/task_file visits each file table once, so one pass gives
 * every fd of the process asked for. Paths come from bpf_d_path(), which
 * this program type accepts. visit_file() is also one step of the shared
 * pass in bpf/fdtable.bpf.c. */
#include "vmlinux.h"
#include "common.bpf.h"

/* Reads the fd's bit in the close-on-exec bitmap: f_flags never keeps O_CLOEXEC. */
static __always_inline __u32 fd_cloexec(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned long *bits = BPF_CORE_READ(fdt, close_on_exec);
	unsigned long word = 0;

	if (!bits || fd < 0)
		return 0;
	bpf_probe_read_kernel(&word, sizeof(word), bits + fd / 64);
	return (word >> (fd % 64)) & 1;
}

static __always_inline __s32 mount_id(struct file *file)
{
	struct vfsmount *vfs = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = container_of(vfs, struct mount, mnt);

	return BPF_CORE_READ(mnt, mnt_id);
}

static __always_inline void fill_inode(struct bpfcp_file *rec, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);

	rec->ino = BPF_CORE_READ(inode, i_ino);
	rec->size = BPF_CORE_READ(inode, i_size);
	rec->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	rec->rdev = BPF_CORE_READ(inode, i_rdev);
	rec->i_mode = BPF_CORE_READ(inode, i_mode);
	rec->nlink = BPF_CORE_READ(inode, __i_nlink);
	rec->s_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	bpf_probe_read_kernel_str(rec->dname, sizeof(rec->dname), BPF_CORE_READ(dentry, d_name.name));
}

/* Writes the record of one open file. bpf/fdtable.bpf.c calls it in the
 * shared pass over the fd table; dump_files below, when files alone are asked for. */
BPFCP_VISITOR int visit_file(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct bpfcp_file *rec;
	long len;
	__u32 size;

	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	rec->fd = fd;
	rec->cloexec = fd_cloexec(task, fd);
	rec->f_flags = BPF_CORE_READ(file, f_flags);
	rec->f_mode = BPF_CORE_READ(file, f_mode);
	rec->pos = BPF_CORE_READ(file, f_pos);
	rec->file_addr = (__u64)file;
	rec->mnt_id = mount_id(file);
	fill_inode(rec, file);

	len = bpf_d_path((struct path *)&file->f_path, (char *)(rec + 1), BPFCP_PATH_MAX);
	if (len > 0) {
		rec->path_len = (len - 1) & (BPFCP_PATH_MAX - 1);
	} else {
		rec->path_err = len;
	}

	size = sizeof(*rec) + (rec->path_len & (BPFCP_PATH_MAX - 1));
	set_header(&rec->hdr, BPFCP_REC_FILE, size);
	bpf_seq_write(seq, rec, size);
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int dump_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_file(ctx->meta->seq, task, file, ctx->fd);
}
#endif

/* Recognising the kind of an open file in iter/task_file programs.
 *
 * fops symbols are not in kallsyms on every kernel, so anonymous-inode files
 * are told apart by the superblock magic and the dentry name the kernel gives
 * them ("[eventfd]", "inotify"...). Included after common.bpf.h. */
#ifndef BPFCP_ANON_INODE_BPF_H
#define BPFCP_ANON_INODE_BPF_H

#define ANON_INODE_FS_MAGIC 0x09041934
#define PID_FS_MAGIC 0x50494446
#define PIPEFS_MAGIC 0x50495045
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

#define S_IFMT 00170000
#define S_IFIFO 0010000

/* Longest dentry name compared: "[signalfd]" plus its NUL. */
#define ANON_NAME_LEN 16

struct anon_name {
	char text[ANON_NAME_LEN];
};

static __always_inline __u32 file_magic(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_sb, s_magic);
}

static __always_inline void file_dname(struct file *file, struct anon_name *name)
{
	const unsigned char *text = BPF_CORE_READ(file, f_path.dentry, d_name.name);

	__builtin_memset(name, 0, sizeof(*name));
	bpf_probe_read_kernel_str(name->text, sizeof(name->text), text);
}

/* Compares the first len bytes of a dentry name with want; len counts the
 * terminating NUL when the whole name must match. */
static __always_inline int name_is(const struct anon_name *name, const char *want, int len)
{
	for (int i = 0; i < ANON_NAME_LEN; i++) {
		if (i >= len)
			break;
		if (name->text[i] != want[i])
			return 0;
	}
	return 1;
}

/* Tests for an anonymous-inode file whose dentry name is exactly want. */
static __always_inline int is_anon(struct file *file, const char *want, int len)
{
	struct anon_name name;

	if (file_magic(file) != ANON_INODE_FS_MAGIC)
		return 0;
	file_dname(file, &name);
	return name_is(&name, want, len);
}

#define IS_ANON(file, literal) is_anon(file, literal, sizeof(literal))

/* Reads the fd's bit in the close-on-exec bitmap: f_flags never keeps O_CLOEXEC. */
static __always_inline __u32 fd_is_cloexec(struct task_struct *task, int fd)
{
	unsigned long *bits = BPF_CORE_READ(task, files, fdt, close_on_exec);
	unsigned long word = 0;

	if (!bits || fd < 0)
		return 0;
	bpf_probe_read_kernel(&word, sizeof(word), bits + fd / 64);
	return (word >> (fd % 64)) & 1;
}

#endif

// SPDX-License-Identifier: GPL-2.0
/* inotify watches and fanotify marks: the marks_list of the fsnotify_group
 * in the fd's private data. For an inode mark the program writes the dentry
 * names up to the file system's root, and user space prefixes the mount
 * point, because bpf_d_path() needs a struct path that a mark lacks. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "anon_inode.bpf.h"
#include "fd_cursor.bpf.h"

#define MAX_VISITS (1 << 20)
#define NAME_MAX_BYTES 256

struct mark_walk {
	struct seq_file *seq;
	struct list_head *head;
	struct list_head *node;
	__s32 fd;
	__u32 api;
	__u32 skip;
	__u32 visited;
	__u32 written;
	__u32 bytes;
};

/* Writes the names from dentry up to its root, leaf first, after rec. */
static __always_inline void fill_path(struct bpfcp_notify_mark *rec, struct dentry *dentry)
{
	char *names = (char *)(rec + 1);
	__u32 off = 0;

	rec->path_truncated = 1;
	for (int i = 0; i < BPFCP_NOTIFY_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		long len;

		if (!parent || parent == dentry) {
			rec->path_truncated = 0;
			break;
		}
		if (off >= BPFCP_NOTIFY_PATH_MAX - NAME_MAX_BYTES)
			break;
		len = bpf_probe_read_kernel_str(names + (off & (BPFCP_NOTIFY_PATH_MAX - 1)), NAME_MAX_BYTES,
						BPF_CORE_READ(dentry, d_name.name));
		if (len <= 0)
			break;
		off += len;
		dentry = parent;
	}
	rec->path_len = off & (BPFCP_NOTIFY_PATH_MAX - 1);
}

static __always_inline void fill_object(struct bpfcp_notify_mark *rec, struct fsnotify_mark *mark)
{
	struct fsnotify_mark_connector *conn = BPF_CORE_READ(mark, connector);
	void *obj;

	if (!conn) {
		rec->obj_type = FSNOTIFY_OBJ_TYPE_DETACHED;
		return;
	}
	rec->obj_type = BPF_CORE_READ(conn, type);
	obj = BPF_CORE_READ(conn, obj);

	if (rec->obj_type == FSNOTIFY_OBJ_TYPE_INODE) {
		struct inode *inode = obj;
		struct hlist_node *alias = BPF_CORE_READ(inode, i_dentry.first);

		rec->ino = BPF_CORE_READ(inode, i_ino);
		rec->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		if (alias)
			fill_path(rec, (void *)alias - bpf_core_field_offset(struct dentry, d_u.d_alias));
	} else if (rec->obj_type == FSNOTIFY_OBJ_TYPE_VFSMOUNT) {
		struct mount *mnt = container_of((struct vfsmount *)obj, struct mount, mnt);

		rec->mnt_id = BPF_CORE_READ(mnt, mnt_id);
		rec->dev = BPF_CORE_READ(mnt, mnt.mnt_sb, s_dev);
	} else if (rec->obj_type == FSNOTIFY_OBJ_TYPE_SB) {
		rec->dev = BPF_CORE_READ((struct super_block *)obj, s_dev);
	}
}

static long visit_mark(__u32 i, void *data)
{
	struct mark_walk *walk = data;
	struct bpfcp_notify_mark *rec;
	struct list_head *node = walk->node;
	struct fsnotify_mark *mark;
	__u32 size;

	if (!node || node == walk->head || walk->bytes >= BPFCP_NOTIFY_BYTES_PER_RUN)
		return 1;
	mark = (void *)node - bpf_core_field_offset(struct fsnotify_mark, g_list);
	walk->node = BPF_CORE_READ(node, next);
	if (walk->visited++ < walk->skip)
		return 0;

	rec = scratch_record();
	if (!rec)
		return 1;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->fd = walk->fd;
	rec->api = walk->api;
	rec->wd = -1;
	if (walk->api == BPFCP_NOTIFY_INOTIFY)
		rec->wd = BPF_CORE_READ(container_of(mark, struct inotify_inode_mark, fsn_mark), wd);
	rec->mask = BPF_CORE_READ(mark, mask);
	rec->ignore_mask = BPF_CORE_READ(mark, ignore_mask);
	rec->mark_flags = BPF_CORE_READ(mark, flags);
	fill_object(rec, mark);

	size = sizeof(*rec) + (rec->path_len & (BPFCP_NOTIFY_PATH_MAX - 1));
	set_header(&rec->hdr, BPFCP_REC_NOTIFY_MARK, size);
	bpf_seq_write(walk->seq, rec, size);
	walk->written++;
	walk->bytes += size;
	return 0;
}

static __always_inline __u32 notify_api(struct file *file)
{
	if (IS_ANON(file, "inotify"))
		return BPFCP_NOTIFY_INOTIFY;
	if (IS_ANON(file, "[fanotify]"))
		return BPFCP_NOTIFY_FANOTIFY;
	return 0;
}

/* Writes the marks of an inotify or fanotify fd and then its struct
 * bpfcp_notify_group. Only fd only_fd is reported unless it is -1, from
 * list position skip. */
static __always_inline int write_notify(struct seq_file *seq, struct file *file, int fd, __s32 only_fd, __u32 skip)
{
	struct fsnotify_group *group;
	struct bpfcp_notify_group rec = {};
	struct mark_walk walk = {};

	walk.api = notify_api(file);
	if (!walk.api)
		return 0;
	if (only_fd >= 0 && only_fd != fd)
		return 0;
	group = BPF_CORE_READ(file, private_data);
	if (!group)
		return 0;

	walk.seq = seq;
	walk.fd = fd;
	walk.skip = only_fd >= 0 ? skip : 0;
	walk.head = &group->marks_list;
	walk.node = BPF_CORE_READ(group, marks_list.next);
	bpf_loop(MAX_VISITS, visit_mark, &walk, 0);

	set_header(&rec.hdr, BPFCP_REC_NOTIFY_GROUP, sizeof(rec));
	rec.fd = fd;
	rec.api = walk.api;
	rec.first = walk.skip;
	rec.marks = walk.written;
	rec.truncated = walk.node && walk.node != walk.head;
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

/* Writes every mark of a notification fd, as a run with cursor -1 does. */
BPFCP_VISITOR int visit_notify(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	return write_notify(seq, file, fd, -1, 0);
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

/* Reports every notify fd, or resumes one from the cursor user space set. */
BPFCP_CURSOR_PROGRAM(dump_notify, notify_cursor, bpfcp_notify_cursor, write_notify)
#endif

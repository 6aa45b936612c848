/* The iter/task_file program shared by fd kinds whose records for one fd
 * can exceed the 32 KiB that one visit may write, so that user space reads
 * them over several runs (epoll watches, notify marks). Included after
 * common.bpf.h. */
#ifndef BPFCP_FD_CURSOR_BPF_H
#define BPFCP_FD_CURSOR_BPF_H

/* Defines the one-entry array map `map`, whose value user space sets before
 * each run to a struct `cursor_type` with fields fd and skip, and the
 * iter/task_file program `prog`. The program passes each open file to
 * write(seq, file, fd, cursor->fd, cursor->skip), which reports every fd
 * when cursor->fd is -1 and otherwise only that fd, from position skip. */
#define BPFCP_CURSOR_PROGRAM(prog, map, cursor_type, write)			\
	struct {								\
		__uint(type, BPF_MAP_TYPE_ARRAY);				\
		__uint(max_entries, 1);						\
		__type(key, __u32);						\
		__type(value, struct cursor_type);				\
	} map SEC(".maps");							\
										\
	SEC("iter/task_file")							\
	int prog(struct bpf_iter__task_file *ctx)				\
	{									\
		struct cursor_type *cursor;					\
		struct file *file = ctx->file;					\
		__u32 zero = 0;							\
										\
		if (!file || !ctx->task)					\
			return 0;						\
		cursor = bpf_map_lookup_elem(&map, &zero);			\
		if (!cursor)							\
			return 0;						\
		return write(ctx->meta->seq, file, ctx->fd, cursor->fd, cursor->skip); \
	}

#endif

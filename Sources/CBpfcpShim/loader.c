/* Opens embedded BPF objects and runs their iterators. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "bpfcp_shim.h"

/* bpf_seq_write() output arrives in reads of at most 32 KiB. */
#define READ_CHUNK (64 * 1024)

static bpfcp_log_fn log_fn;

static int print_to_log(enum libbpf_print_level level, const char *format, va_list args)
{
	char line[16384];

	if (!log_fn)
		return 0;
	vsnprintf(line, sizeof(line), format, args);
	log_fn((int)level, line);
	return 0;
}

void bpfcp_set_log(bpfcp_log_fn fn)
{
	log_fn = fn;
	libbpf_set_print(print_to_log);
}

static int find_object(const char *name)
{
	for (size_t i = 0; i < bpfcp_object_count(); i++) {
		if (strcmp(bpfcp_object_name(i), name) == 0)
			return (int)i;
	}
	return -1;
}

struct bpf_object *bpfcp_object_load(const char *name, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
	struct bpf_object *obj;
	const void *bytes;
	size_t size = 0;
	int index = find_object(name);
	int rc;

	if (index < 0) {
		snprintf(err, err_len, "no BPF object named %s is built into this binary", name);
		errno = ENOENT;
		return NULL;
	}
	bytes = bpfcp_object_bytes((size_t)index, &size);

	obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj) {
		rc = errno;
		snprintf(err, err_len, "opening BPF object %s failed: %s", name, strerror(rc));
		errno = rc;
		return NULL;
	}

	rc = bpf_object__load(obj);
	if (rc) {
		snprintf(err, err_len, "loading BPF object %s failed: %s", name, strerror(-rc));
		bpf_object__close(obj);
		errno = -rc;
		return NULL;
	}
	return obj;
}

void bpfcp_object_close(struct bpf_object *obj)
{
	bpf_object__close(obj);
}

int bpfcp_object_has_program(struct bpf_object *obj, const char *prog)
{
	return bpf_object__find_program_by_name(obj, prog) != NULL;
}

int bpfcp_object_map_update(struct bpf_object *obj, const char *map_name, const void *key, const void *value)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);

	if (!map)
		return -ENOENT;
	return bpf_map_update_elem(bpf_map__fd(map), key, value, BPF_ANY) ? -errno : 0;
}

int bpfcp_object_map_fill(struct bpf_object *obj, const char *map_name, const void *keys, unsigned int count,
			  const void *value)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);
	size_t value_size;
	char *values;
	int rc;

	if (!map)
		return -ENOENT;
	if (count == 0)
		return 0;
	value_size = bpf_map__value_size(map);
	values = malloc(value_size * count);
	if (!values)
		return -ENOMEM;
	for (unsigned int i = 0; i < count; i++)
		memcpy(values + i * value_size, value, value_size);

	rc = bpf_map_update_batch(bpf_map__fd(map), keys, values, &count, NULL) ? -errno : 0;
	free(values);
	return rc;
}

int bpfcp_object_map_delete(struct bpf_object *obj, const char *map_name, const void *keys, unsigned int count)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);

	if (!map)
		return -ENOENT;
	if (count == 0)
		return 0;
	return bpf_map_delete_batch(bpf_map__fd(map), keys, &count, NULL) ? -errno : 0;
}

/* Reads the iterator fd to the end into one growing buffer. */
static long read_all(int fd, void **out, char *err, size_t err_len)
{
	size_t cap = READ_CHUNK, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf) {
		snprintf(err, err_len, "out of memory reading BPF iterator");
		return -ENOMEM;
	}
	for (;;) {
		if (cap - len < READ_CHUNK) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				snprintf(err, err_len, "out of memory reading BPF iterator");
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			long rc = -errno;
			free(buf);
			snprintf(err, err_len, "reading BPF iterator failed: %s", strerror((int)-rc));
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	return (long)len;
}

int bpfcp_iter_open(struct bpf_object *obj, const char *prog_name, int pid, struct bpf_link **link,
		    char *err, size_t err_len)
{
	union bpf_iter_link_info info;
	struct bpf_iter_attach_opts opts;
	struct bpf_program *prog;
	int rc, fd;

	prog = bpf_object__find_program_by_name(obj, prog_name);
	if (!prog) {
		snprintf(err, err_len, "BPF program %s not found", prog_name);
		return -ENOENT;
	}

	memset(&info, 0, sizeof(info));
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	if (pid > 0) {
		info.task.pid = (__u32)pid;
		opts.link_info = &info;
		opts.link_info_len = sizeof(info);
	}

	*link = bpf_program__attach_iter(prog, &opts);
	if (!*link) {
		rc = -errno;
		snprintf(err, err_len, "attaching BPF iterator %s failed: %s", prog_name, strerror(-rc));
		return rc;
	}

	fd = bpf_iter_create(bpf_link__fd(*link));
	if (fd < 0) {
		rc = -errno;
		bpf_link__destroy(*link);
		*link = NULL;
		snprintf(err, err_len, "creating BPF iterator %s failed: %s", prog_name, strerror(-rc));
		return rc;
	}
	return fd;
}

long bpfcp_iter_run(struct bpf_object *obj, const char *prog_name, int pid,
		    void **out, char *err, size_t err_len)
{
	struct bpf_link *link;
	long rc;
	int fd;

	fd = bpfcp_iter_open(obj, prog_name, pid, &link, err, err_len);
	if (fd < 0)
		return fd;

	rc = read_all(fd, out, err, err_len);
	close(fd);
	bpf_link__destroy(link);
	return rc;
}

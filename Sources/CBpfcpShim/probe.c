/* Feature probes for `bpfcp check`: which programs the embedded objects hold,
 * which helpers they call, and whether their iterators attach. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include "bpfcp_shim.h"

int bpfcp_helper_id(const char *name)
{
	static const struct { const char *name; int id; } table[] = {
		{ "bpf_d_path", BPF_FUNC_d_path },
		{ "bpf_copy_from_user_task", BPF_FUNC_copy_from_user_task },
		{ "bpf_task_pt_regs", BPF_FUNC_task_pt_regs },
		{ "bpf_sock_from_file", BPF_FUNC_sock_from_file },
		{ "bpf_seq_write", BPF_FUNC_seq_write },
		{ "bpf_probe_read_kernel", BPF_FUNC_probe_read_kernel },
		{ "bpf_probe_read_kernel_str", BPF_FUNC_probe_read_kernel_str },
		{ "bpf_map_lookup_elem", BPF_FUNC_map_lookup_elem },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].name, name) == 0)
			return table[i].id;
	}
	return -1;
}

/* Adds the distinct helper ids that prog calls to info. A helper call is
 * BPF_JMP|BPF_CALL with src_reg 0; src_reg 1 is a BPF-to-BPF call and 2 a kfunc. */
static void collect_helpers(const struct bpf_program *prog, struct bpfcp_program_info *info)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	size_t count = bpf_program__insn_cnt(prog);

	for (size_t i = 0; i < count; i++) {
		const struct bpf_insn *insn = &insns[i];
		int known = 0;

		if (insn->code != (BPF_JMP | BPF_CALL) || insn->src_reg != 0)
			continue;
		for (uint32_t k = 0; k < info->helper_count; k++)
			known |= info->helpers[k] == insn->imm;
		if (!known && info->helper_count < BPFCP_PROBE_MAX_HELPERS)
			info->helpers[info->helper_count++] = insn->imm;
	}
}

int bpfcp_object_programs(const char *object, struct bpfcp_program_info *out, int max,
			  char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = object);
	struct bpf_program *prog;
	struct bpf_object *obj;
	const void *bytes = NULL;
	size_t size = 0;
	int n = 0;

	for (size_t i = 0; i < bpfcp_object_count(); i++) {
		if (strcmp(bpfcp_object_name(i), object) == 0)
			bytes = bpfcp_object_bytes(i, &size);
	}
	if (!bytes) {
		snprintf(err, err_len, "no BPF object named %s is built into this binary", object);
		return -ENOENT;
	}

	/* Opening parses the ELF only, so this works without privileges. */
	obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj) {
		int rc = errno;
		snprintf(err, err_len, "opening BPF object %s failed: %s", object, strerror(rc));
		return -rc;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpfcp_program_info *info;

		if (n >= max)
			break;
		info = &out[n++];
		memset(info, 0, sizeof(*info));
		snprintf(info->name, sizeof(info->name), "%s", bpf_program__name(prog));
		snprintf(info->section, sizeof(info->section), "%s", bpf_program__section_name(prog));
		collect_helpers(prog, info);
	}
	bpf_object__close(obj);
	return n;
}

int bpfcp_iter_probe(struct bpf_object *obj, const char *prog_name, int pid, char *err, size_t err_len)
{
	struct bpf_link *link;
	int fd;

	fd = bpfcp_iter_open(obj, prog_name, pid, &link, err, err_len);
	if (fd < 0)
		return fd;

	close(fd);
	bpf_link__destroy(link);
	return 0;
}

int bpfcp_probe_tracing_helper(int helper_id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACING, (enum bpf_func_id)helper_id, NULL);
}

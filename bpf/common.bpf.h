/* Helpers shared by every program in bpf/. Included after vmlinux.h. */
#ifndef BPFCP_COMMON_BPF_H
#define BPFCP_COMMON_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "records.h"

#define PF_KTHREAD 0x00200000

/* Records are built in per-CPU scratch memory because most are larger
 * than the 512-byte BPF stack. */
struct scratch {
	char buf[BPFCP_MAX_RECORD];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} bpfcp_scratch SEC(".maps");

static __always_inline void *scratch_record(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&bpfcp_scratch, &zero);
}

/* A kind's visit function for one open file, called by the kind's own
 * iter/task_file program and by the shared pass in bpf/fdtable.bpf.c, so
 * that both write the same records. The shared pass includes each kind's
 * .bpf.c with BPFCP_SHARED_PASS defined, which leaves out the kind's own
 * programs, license and the maps only they use. A separate BPF function
 * keeps each kind's stack frame apart from the others'. */
#define BPFCP_VISITOR static __noinline

static __always_inline void set_header(struct bpfcp_rec_hdr *hdr, __u16 kind, __u32 size)
{
	hdr->kind = kind;
	hdr->version = 1;
	hdr->size = size;
}

#endif

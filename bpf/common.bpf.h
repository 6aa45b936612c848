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

static __always_inline void set_header(struct bpfcp_rec_hdr *hdr, __u16 kind, __u32 size)
{
	hdr->kind = kind;
	hdr->version = 1;
	hdr->size = size;
}

#endif

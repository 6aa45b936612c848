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

/* Marks a kind's visit function for one open file, called by the kind's own
 * iter/task_file program and by the shared pass in bpf/fdtable.bpf.c, so
 * that both write the same records. Write it on one line as
 * "BPFCP_VISITOR int visit_<kind>(struct seq_file *seq, struct task_struct
 * *task, struct file *file, int fd)", which tools/gen-fd-visitors.sh looks
 * for. The shared pass includes each such .bpf.c with BPFCP_SHARED_PASS
 * defined, which leaves out the kind's own programs, license and the maps
 * only they use. There each visit function is a separate BPF function,
 * which keeps each kind's stack frame apart from the others'. In a kind's
 * own object it is inlined, so that its program's instructions show the
 * helpers it calls, which `bpfcp check` reads before loading. */
#ifdef BPFCP_SHARED_PASS
#define BPFCP_VISITOR static __noinline __attribute__((unused))
#else
#define BPFCP_VISITOR static __always_inline __attribute__((unused))
#endif

static __always_inline void set_header(struct bpfcp_rec_hdr *hdr, __u16 kind, __u32 size)
{
	hdr->kind = kind;
	hdr->version = 1;
	hdr->size = size;
}

#endif

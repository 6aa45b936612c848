/* Record layouts shared by the BPF programs in bpf/ and the Swift reader.
 *
 * Every record starts with struct bpfcp_rec_hdr. The BPF side writes records
 * back to back with bpf_seq_write(); user space walks them by hdr.size.
 * Fields are fixed width so that both compilers agree on the layout, and a
 * Swift test checks the offsets. Record kind numbers are never reused. */
#ifndef BPFCP_RECORDS_H
#define BPFCP_RECORDS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum bpfcp_rec_kind {
	BPFCP_REC_PROC = 1,
	BPFCP_REC_THREAD_CPU = 2,
	BPFCP_REC_THREAD = 3,
	BPFCP_REC_FILE = 4,
	BPFCP_REC_VMA = 5,
	BPFCP_REC_SIGHAND = 30,
	BPFCP_REC_SIGTHREAD = 31,
	BPFCP_REC_SIGQUEUED = 32,
	BPFCP_REC_PIPE = 20,
	BPFCP_REC_EVENT_FILE = 21,
	BPFCP_REC_SOCKET = 10,
	BPFCP_REC_SOCKET_OWNER = 11,
	BPFCP_REC_EPOLL = 22,
	BPFCP_REC_EPOLL_WATCH = 23,
	BPFCP_REC_NOTIFY_MARK = 24,
	BPFCP_REC_NOTIFY_GROUP = 25,
	BPFCP_REC_MEMFD = 26,
	BPFCP_REC_IO_URING = 27,
	BPFCP_REC_IO_URING_MAP = 28,
	BPFCP_REC_CRED = 33,
	BPFCP_REC_NS = 34,
	BPFCP_REC_CONTEXT = 35,
	BPFCP_REC_POSIX_TIMER = 36,
	BPFCP_REC_ENV_CHUNK = 37,
	BPFCP_REC_THREAD_CHILDREN = 38,
	BPFCP_REC_VMA_PAGES = 100,
	BPFCP_REC_PROC_ARGS_HELD = 150,	/* struct bpfcp_proc without argv: user space holds it */
	/* New kinds take the next free number here. */
};

struct bpfcp_rec_hdr {
	__u16 kind;	/* enum bpfcp_rec_kind */
	__u16 version;	/* layout version of this kind, starting at 1 */
	__u32 size;	/* bytes in the record, header and trailing data included */
};

/* The largest record any program writes, and the size of the per-CPU
 * scratch buffer records are built in. bpf_seq_write() accepts up to 32 KiB. */
#define BPFCP_MAX_RECORD 8192

#include "task.h"
#include "file.h"
#include "vma.h"
#include "signal.h"
#include "pipe.h"
#include "eventfd.h"
#include "sockets.h"
#include "epoll.h"
#include "notify.h"
#include "memfd.h"
#include "io_uring.h"
#include "cred.h"
#include "ns.h"
#include "procctx.h"
#include "vmapages.h"

#endif

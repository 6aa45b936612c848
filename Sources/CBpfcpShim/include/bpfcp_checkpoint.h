/* C side of checkpoints: CRC32C, per-thread register reads through ptrace,
 * PAGEMAP_SCAN, and a release path that signal handlers can run. */
#ifndef BPFCP_CHECKPOINT_H
#define BPFCP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bpfcp_pagehash.h"

/* CRC32C (Castagnoli), continuing from crc (start with 0). Uses the SSE4.2
 * instruction in three parallel lanes when the CPU has it, a table otherwise. */
uint32_t bpfcp_crc32c(uint32_t crc, const void *data, size_t len);

/* General-purpose registers of a ptrace-stopped thread, in the order of
 * struct user_regs_struct (27 values, fs_base and gs_base included).
 * Returns 0 or -errno. */
#define BPFCP_USER_REGS_COUNT 27
int bpfcp_get_user_regs(pid_t tid, uint64_t out[BPFCP_USER_REGS_COUNT]);
const char *bpfcp_user_reg_name(int index);

/* XSAVE area (FPU, SSE, AVX...) of a ptrace-stopped thread through
 * PTRACE_GETREGSET NT_X86_XSTATE. Returns the byte count or -errno. */
long bpfcp_get_xstate(pid_t tid, void *buf, size_t len);

/* Blocked-signal mask of a ptrace-stopped thread (PTRACE_GETSIGMASK). */
int bpfcp_get_sigmask(pid_t tid, uint64_t *mask);

/* process_vm_readv of len bytes at remote address addr of pid into buf.
 * Returns the bytes read or -errno. */
long bpfcp_read_remote(pid_t pid, void *buf, uint64_t addr, size_t len);

/* process_vm_writev of len bytes from buf to remote address addr of pid.
 * Stops at the first page the target cannot write. Returns the bytes
 * written or -errno. */
long bpfcp_write_remote(pid_t pid, const void *buf, uint64_t addr, size_t len);

/* One run of pages that PAGEMAP_SCAN reported, with its categories. */
struct bpfcp_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

#define BPFCP_PAGE_IS_FILE    (1ULL << 2)
#define BPFCP_PAGE_IS_PRESENT (1ULL << 3)
#define BPFCP_PAGE_IS_SWAPPED (1ULL << 4)
#define BPFCP_PAGE_IS_PFNZERO (1ULL << 5)

/* Runs ioctl(PAGEMAP_SCAN) on the pagemap fd over [start, end) and stores
 * up to max_regions runs in out. Pages must match every bit of
 * required_mask (after XOR with inverted) and one bit of anyof_mask.
 * Returns the run count, or -errno. *walk_end receives where the kernel
 * stopped, which is below end when out filled up. */
long bpfcp_pagemap_scan(int fd, uint64_t start, uint64_t end,
			uint64_t required_mask, uint64_t inverted, uint64_t anyof_mask,
			struct bpfcp_page_region *out, size_t max_regions, uint64_t *walk_end);

/* Threads held under ptrace, kept where a signal handler can reach them.
 * bpfcp_hold_add() records one; bpfcp_hold_clear() drops them all. */
void bpfcp_hold_add(pid_t tid);
void bpfcp_hold_remove(pid_t tid);
void bpfcp_hold_clear(void);

/* Installs SIGINT, SIGTERM, SIGHUP and SIGQUIT handlers that detach every
 * held thread, so the target runs on, and then set the interrupted flag,
 * which installing clears. bpfcp_hold_restore_handlers() puts the previous
 * handlers back; the flag stays readable with bpfcp_interrupted(). */
void bpfcp_hold_install_handlers(void);
void bpfcp_hold_restore_handlers(void);
int bpfcp_interrupted(void);

/* While set, the handlers above only set the interrupted flag: a thread
 * running an injected system call must not be detached with its borrowed
 * registers (bpfcp_inject.h). */
void bpfcp_hold_set_injecting(int on);

#endif

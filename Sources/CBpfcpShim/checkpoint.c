#define _GNU_SOURCE
/* Checkpoint helpers that Swift cannot express directly: variadic ptrace
 * requests with kernel structs, PAGEMAP_SCAN, CRC32C and signal handlers. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>
#include <cpuid.h>
#include "bpfcp_checkpoint.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* ---- CRC32C ---- */

static uint32_t crc_table[256];
static int crc_hw = -1;

static void crc_init(void)
{
	unsigned int a, b, c, d;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;
		for (int k = 0; k < 8; k++)
			v = (v & 1) ? (v >> 1) ^ 0x82F63B78u : v >> 1;
		crc_table[i] = v;
	}
	crc_hw = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
}

__attribute__((target("sse4.2")))
static uint32_t crc_hardware(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

uint32_t bpfcp_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (crc_hw < 0)
		crc_init();
	crc = ~crc;
	if (crc_hw)
		return ~crc_hardware(crc, p, len);
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

/* ---- registers ---- */

static const char *const user_reg_names[BPFCP_USER_REGS_COUNT] = {
	"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
	"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
	"rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
};

_Static_assert(sizeof(struct user_regs_struct) == BPFCP_USER_REGS_COUNT * 8,
	       "user_regs_struct is 27 64-bit registers on x86-64");

const char *bpfcp_user_reg_name(int index)
{
	if (index < 0 || index >= BPFCP_USER_REGS_COUNT)
		return "";
	return user_reg_names[index];
}

int bpfcp_get_user_regs(pid_t tid, uint64_t out[BPFCP_USER_REGS_COUNT])
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) != 0)
		return -errno;
	memcpy(out, &regs, sizeof(regs));
	return 0;
}

long bpfcp_get_xstate(pid_t tid, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) != 0)
		return -errno;
	return (long)iov.iov_len;
}

int bpfcp_get_sigmask(pid_t tid, uint64_t *mask)
{
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(*mask), mask) != 0)
		return -errno;
	return 0;
}

long bpfcp_read_remote(pid_t pid, void *buf, uint64_t addr, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n < 0 ? -errno : (long)n;
}

/* ---- PAGEMAP_SCAN (Linux 6.7), declared here because Debian 12's
 * kernel headers predate it. ---- */

struct pm_scan_arg_v1 {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN_V1 _IOWR('f', 16, struct pm_scan_arg_v1)

long bpfcp_pagemap_scan(int fd, uint64_t start, uint64_t end,
			uint64_t required_mask, uint64_t inverted, uint64_t anyof_mask,
			struct bpfcp_page_region *out, size_t max_regions, uint64_t *walk_end)
{
	struct pm_scan_arg_v1 arg;
	long n;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = start;
	arg.end = end;
	arg.vec = (uint64_t)(uintptr_t)out;
	arg.vec_len = max_regions;
	arg.category_inverted = inverted;
	arg.category_mask = required_mask;
	arg.category_anyof_mask = anyof_mask;
	arg.return_mask = BPFCP_PAGE_IS_FILE | BPFCP_PAGE_IS_PRESENT |
			  BPFCP_PAGE_IS_SWAPPED | BPFCP_PAGE_IS_PFNZERO;

	n = ioctl(fd, PAGEMAP_SCAN_V1, &arg);
	if (n < 0)
		return -errno;
	*walk_end = arg.walk_end;
	return n;
}

/* ---- release from signal handlers ---- */

#define HOLD_MAX 65536

static volatile pid_t held[HOLD_MAX];
static volatile sig_atomic_t held_count;
static volatile sig_atomic_t interrupted;
/* Only the thread that seized a tracee may detach it, so handlers running
 * on any other thread forward the signal to this one. */
static volatile pid_t tracer_tid;

void bpfcp_hold_add(pid_t tid)
{
	tracer_tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < held_count; i++) {
		if (held[i] == 0) {
			held[i] = tid;
			return;
		}
	}
	if (held_count < HOLD_MAX) {
		held[held_count] = tid;
		held_count = held_count + 1;
	}
}

void bpfcp_hold_remove(pid_t tid)
{
	for (int i = 0; i < held_count; i++) {
		if (held[i] == tid)
			held[i] = 0;
	}
}

void bpfcp_hold_clear(void)
{
	held_count = 0;
}

static void release_on_signal(int sig)
{
	int saved = errno;

	interrupted = 1;
	if (tracer_tid > 0 && (pid_t)syscall(SYS_gettid) != tracer_tid) {
		syscall(SYS_tgkill, getpid(), tracer_tid, sig);
		errno = saved;
		return;
	}
	for (int i = 0; i < held_count; i++) {
		if (held[i] > 0)
			ptrace(PTRACE_DETACH, held[i], NULL, NULL);
		held[i] = 0;
	}
	errno = saved;
}

static const int release_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define RELEASE_SIGNAL_COUNT (sizeof(release_signals) / sizeof(release_signals[0]))
static struct sigaction saved_actions[RELEASE_SIGNAL_COUNT];
static int handlers_installed;

void bpfcp_hold_install_handlers(void)
{
	struct sigaction sa;

	interrupted = 0;
	if (handlers_installed)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = release_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RELEASE_SIGNAL_COUNT; i++)
		sigaction(release_signals[i], &sa, &saved_actions[i]);
	handlers_installed = 1;
}

void bpfcp_hold_restore_handlers(void)
{
	if (!handlers_installed)
		return;
	for (size_t i = 0; i < RELEASE_SIGNAL_COUNT; i++)
		sigaction(release_signals[i], &saved_actions[i], NULL);
	handlers_installed = 0;
}

int bpfcp_interrupted(void)
{
	return interrupted;
}

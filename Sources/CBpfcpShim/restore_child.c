/* The C half of `bpfcp restore`: creating the empty child that restore
 * drives with ptrace, and the syscall stub it runs. The restore logic itself
 * is in Swift (Sources/BpfcpCore/Restore). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "bpfcp_restore.h"

/* The syscall stub, copied to the start of the trampoline in the child.
 * It is position independent and uses no stack. On entry r12 points at a
 * table of r13 entries of 8 words each: number, six arguments, result. It
 * runs the entries in order, stores each result and stops at int3 after the
 * last entry or after the first one that fails (a result in -4095..-1), so
 * r13 is 0 on success and otherwise counts the entries not completed. */
__asm__(
	".pushsection .text\n"
	".globl bpfcp_stub_start\n"
	".globl bpfcp_stub_syscall\n"
	".globl bpfcp_stub_end\n"
	"bpfcp_stub_start:\n"
	"1:	test %r13, %r13\n"
	"	jz 2f\n"
	"	mov 0(%r12), %rax\n"
	"	mov 8(%r12), %rdi\n"
	"	mov 16(%r12), %rsi\n"
	"	mov 24(%r12), %rdx\n"
	"	mov 32(%r12), %r10\n"
	"	mov 40(%r12), %r8\n"
	"	mov 48(%r12), %r9\n"
	"bpfcp_stub_syscall:\n"
	"	syscall\n"
	"	mov %rax, 56(%r12)\n"
	"	cmp $-4095, %rax\n"
	"	jae 2f\n"
	"	add $64, %r12\n"
	"	dec %r13\n"
	"	jmp 1b\n"
	"2:	int3\n"
	"	jmp 2b\n"
	"bpfcp_stub_end:\n"
	".popsection\n");

extern const unsigned char bpfcp_stub_start[];
extern const unsigned char bpfcp_stub_syscall[];
extern const unsigned char bpfcp_stub_end[];

size_t bpfcp_stub_size(void)
{
	return (size_t)(bpfcp_stub_end - bpfcp_stub_start);
}

size_t bpfcp_stub_syscall_offset(void)
{
	return (size_t)(bpfcp_stub_syscall - bpfcp_stub_start);
}

/* glibc 2.35+ registers an rseq area in each thread's TLS. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define RSEQ_SIGNATURE 0x53053053

struct kernel_sigaction {
	unsigned long handler;
	unsigned long flags;
	unsigned long restorer;
	unsigned long mask;
};

/* Runs in the new child only, so it makes raw system calls and touches no
 * lock: the restorer may have other threads, frozen mid-way in this copy. */
static void __attribute__((noreturn)) child_prepare(uint64_t tramp, uint64_t tramp_len)
{
	struct kernel_sigaction dfl = { 0 };
	stack_t no_altstack = { .ss_flags = SS_DISABLE };
	long pid;
	void *area;

	/* The kernel would keep writing to the restorer's rseq area and
	 * robust list, which the restore unmaps. */
	if (&__rseq_offset && &__rseq_size && __rseq_size > 0) {
		char *rseq_area = (char *)__builtin_thread_pointer() + __rseq_offset;
		if (syscall(SYS_rseq, rseq_area, __rseq_size, 1, RSEQ_SIGNATURE) != 0)
			syscall(SYS_rseq, rseq_area, 32, 1, RSEQ_SIGNATURE);
	}
	syscall(SYS_set_robust_list, NULL, 3 * sizeof(long));
	syscall(SYS_sigaltstack, &no_altstack, NULL);
	for (int sig = 1; sig <= 64; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	}
	syscall(SYS_close_range, 3, ~0U, 0);

	area = (void *)syscall(SYS_mmap, tramp, tramp_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (area != (void *)tramp)
		syscall(SYS_exit_group, BPFCP_SPAWN_EXIT_MMAP);
	memcpy(area, bpfcp_stub_start, bpfcp_stub_size());
	if (syscall(SYS_mprotect, tramp, 4096, PROT_READ | PROT_EXEC) != 0)
		syscall(SYS_exit_group, BPFCP_SPAWN_EXIT_MMAP);

	if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0)
		syscall(SYS_exit_group, BPFCP_SPAWN_EXIT_TRACEME);
	pid = syscall(SYS_getpid);
	syscall(SYS_kill, pid, SIGSTOP);
	for (;;)
		syscall(SYS_exit_group, BPFCP_SPAWN_EXIT_RESUMED);
}

pid_t bpfcp_restore_spawn(pid_t set_tid, uint64_t tramp, uint64_t tramp_len)
{
	struct clone_args args;
	pid_t tids[1] = { set_tid };
	long pid;

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	if (set_tid > 0) {
		args.set_tid = (uint64_t)(uintptr_t)tids;
		args.set_tid_size = 1;
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		child_prepare(tramp, tramp_len);
	return (pid_t)pid;
}

/* One system call run inside a thread that a checkpoint holds under
 * ptrace, such as the clone that makes a copy-on-write snapshot of the
 * target's memory. */
#ifndef BPFCP_INJECT_H
#define BPFCP_INJECT_H

#include <stdint.h>
#include <sys/types.h>

struct bpfcp_injection {
	/* Value the system call returned (a negative errno on failure). */
	int64_t result;
	/* Task the call created and the kernel attached to this tracer (clone,
	 * fork), already stopped and set to die with its tracer; 0 if none. */
	int32_t created;
	/* Signal that reached the thread before the call started; the call
	 * then did not run, and the thread sits in that signal-delivery stop
	 * with its own registers, to be released with this signal. */
	int32_t signal;
};

/* Runs system call nr with args in the held thread tid by executing the
 * `syscall` instruction at syscall_ip, then puts back every register and
 * stops the thread again in a PTRACE_EVENT_STOP. On release the kernel
 * therefore restarts an interrupted system call of the thread exactly as
 * it would have without the call. tid must be seized (PTRACE_SEIZE) and
 * held in a PTRACE_EVENT_STOP. Returns 0, or -errno when a ptrace step
 * failed; out->signal may be set in both cases. */
int bpfcp_inject_syscall(pid_t tid, uint64_t syscall_ip, long nr, const uint64_t args[6],
			 struct bpfcp_injection *out);

#endif

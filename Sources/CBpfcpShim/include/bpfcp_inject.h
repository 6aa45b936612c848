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

/* Sets the ptrace options a snapshot copy needs before bpfcp_copy_syscall:
 * syscall stops marked as such, and death with its tracer kept. Returns 0 or -errno. */
int bpfcp_copy_prepare(pid_t copy);

/* Runs system call nr with args in the stopped snapshot copy by executing
 * the `syscall` instruction at syscall_ip, and leaves the copy in the
 * syscall-exit stop. Signals that reach the copy meanwhile are discarded.
 * Stores the call's return value (a negative errno on failure) in *result.
 * Returns 0, or -errno when a ptrace step failed. */
int bpfcp_copy_syscall(pid_t copy, uint64_t syscall_ip, long nr, const uint64_t args[6], int64_t *result);

/* Finds a `syscall` instruction (0f 05) that the held thread tid of pid
 * can be sent to without writing into the target: the one it entered its
 * current system call with, else one in the [vdso]. A thread stopped
 * outside a system call with a non-zero rseq critical-section pointer is
 * refused, because leaving it for the vdso would end the critical section
 * without the abort rseq promises. Returns 0 and stores the address, or -errno. */
int bpfcp_find_syscall_site(pid_t pid, pid_t tid, uint64_t *site);

/* Reads the one-letter state of task pid from /proc/PID/stat and returns it
 * ('t' for a tracing stop, 'Z' for a zombie...), or 0 when the task is gone.
 * Uses no stdio and no malloc, so that the guardian can call it. */
char bpfcp_task_state(pid_t pid);

/* A guardian is a child process that reaps snapshot copies if bpfcp dies
 * first. After a SIGKILL, PTRACE_O_EXITKILL kills each copy, but the dead
 * copy stays a zombie child of the target until the target waits with
 * __WALL. The guardian notices bpfcp's death as EOF on its control pipe,
 * then holds one thread of each target and makes it call wait4 on its copy.
 * bpfcp_guardian_start returns the guardian's pid and the control fd, or -errno. */
pid_t bpfcp_guardian_start(int *control_fd);
/* Tells the guardian about a copy (add 1) or that bpfcp reaped it (add 0). Returns 0 or -errno. */
int bpfcp_guardian_watch(int control_fd, pid_t target, pid_t copy, pid_t copy_in_target, int add);
/* Lets the guardian exit without doing anything, and reaps it. */
void bpfcp_guardian_stop(int control_fd, pid_t guardian);

#endif

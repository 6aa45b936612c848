#define _GNU_SOURCE
/* Runs one system call inside a held thread of a checkpoint target.
 *
 * The thread sits in the PTRACE_EVENT_STOP that PTRACE_INTERRUPT caused.
 * If the interrupt broke off a system call, its registers hold orig_rax =
 * the call and rax = -ERESTART*, and the kernel restarts the call when the
 * thread leaves get_signal() without a signal. The injection must leave
 * exactly that state behind, so it:
 *
 *   1. saves every register, sets rip to a `syscall` instruction, rax and
 *      the arguments to the call, and orig_rax to -1 so that leaving the
 *      stop restarts nothing;
 *   2. runs to the syscall-entry stop and then to the syscall-exit stop
 *      (PTRACE_SYSCALL), collecting on the way a task a clone created;
 *   3. puts the saved registers back, and with PTRACE_INTERRUPT plus
 *      PTRACE_CONT sends the thread through get_signal() into a new
 *      PTRACE_EVENT_STOP. On release it leaves get_signal() from there
 *      with its own registers, and the restart happens as without us.
 *
 * Nothing is written to the target's memory: the instruction is one the
 * target already has. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include "bpfcp_checkpoint.h"
#include "bpfcp_inject.h"

#define SYSCALL_STOP (SIGTRAP | 0x80)
#define STOP_TIMEOUT_NS 2000000000LL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits for the next stop of tid and returns its waitpid status in
 * *status. Another thread of this process may collect the notification
 * first (Foundation's child monitor waits for the children it started,
 * and a test fixture is one), so once the task shows a tracing stop in
 * /proc, the status is rebuilt from PTRACE_GETSIGINFO, which describes
 * the same stop. Returns 0, -ESRCH when the task exited, or -ETIMEDOUT. */
static int wait_stop(pid_t tid, int *status)
{
	long long deadline = now_ns() + STOP_TIMEOUT_NS;
	int spins = 0;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		siginfo_t info;
		char state;

		if (r == tid)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (r < 0 && errno == EINTR)
			continue;
		if (++spins > 16 || r < 0) {
			state = bpfcp_task_state(tid);
			if (state == 0 || state == 'Z' || state == 'X')
				return -ESRCH;
			if (state == 't' && ptrace(PTRACE_GETSIGINFO, tid, NULL, &info) == 0) {
				/* Syscall and event stops carry SIGTRAP plus flags in si_code, as waitpid does. */
				if (info.si_signo == SIGTRAP && info.si_code > 0 && (info.si_code & 0x7F) == SIGTRAP)
					*status = (info.si_code << 8 & 0xFFFF00) | 0x7F;
				else
					*status = info.si_signo << 8 | 0x7F;
				return 0;
			}
		}
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		if (spins > 16)
			usleep(50);
		else
			sched_yield();
	}
}

static int ptrace_event(int status)
{
	return status >> 16;
}

/* Takes over a task that a clone in the held thread created: the kernel
 * attached it to this tracer, and it stops before running any instruction.
 * PTRACE_O_EXITKILL then makes it die with this process. */
static int adopt_created(pid_t tid, struct bpfcp_injection *out)
{
	unsigned long message = 0;
	int status, rc;

	if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &message) != 0)
		return -errno;
	out->created = (int32_t)message;
	rc = wait_stop(out->created, &status);
	if (rc != 0)
		return rc;
	if (ptrace(PTRACE_SETOPTIONS, out->created, NULL, (void *)(long)PTRACE_O_EXITKILL) != 0)
		return -errno;
	return 0;
}

/* Resumes tid with PTRACE_SYSCALL until the next syscall stop, adopting
 * created tasks on the way. A signal-delivery stop before the entry ends
 * the run: *signal receives the signal. */
static int run_to_syscall_stop(pid_t tid, struct bpfcp_injection *out, int *signal)
{
	int status, rc;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) != 0)
			return -errno;
		rc = wait_stop(tid, &status);
		if (rc != 0)
			return rc;
		if (WSTOPSIG(status) == SYSCALL_STOP)
			return 0;
		switch (ptrace_event(status)) {
		case PTRACE_EVENT_CLONE:
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
			rc = adopt_created(tid, out);
			if (rc != 0)
				return rc;
			continue;
		case 0:
			if (WSTOPSIG(status) != SIGTRAP) {
				*signal = WSTOPSIG(status);
				return 0;
			}
			continue;
		default:
			continue;
		}
	}
}

/* Puts the saved registers back and stops the thread in a new
 * PTRACE_EVENT_STOP inside get_signal(), where the freeze had put it. */
static int back_to_interrupt_stop(pid_t tid, const struct user_regs_struct *saved)
{
	int status, rc;

	if (ptrace(PTRACE_SETREGS, tid, NULL, saved) != 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0)
		return -errno;
	if (ptrace(PTRACE_CONT, tid, NULL, NULL) != 0)
		return -errno;
	rc = wait_stop(tid, &status);
	if (rc != 0)
		return rc;
	return ptrace_event(status) == PTRACE_EVENT_STOP ? 0 : -EPROTO;
}

/* Sets regs to run call nr with its six arguments at the syscall
 * instruction at syscall_ip. orig_rax -1 means leaving the stop restarts
 * nothing (step 1 above). */
static void load_syscall(struct user_regs_struct *regs, uint64_t syscall_ip, long nr, const uint64_t args[6])
{
	regs->rip = syscall_ip;
	regs->rax = (unsigned long long)nr;
	regs->orig_rax = (unsigned long long)-1;
	regs->rdi = args[0];
	regs->rsi = args[1];
	regs->rdx = args[2];
	regs->r10 = args[3];
	regs->r8 = args[4];
	regs->r9 = args[5];
}

static int inject(pid_t tid, const struct user_regs_struct *saved, uint64_t syscall_ip, long nr,
		  const uint64_t args[6], struct bpfcp_injection *out)
{
	struct user_regs_struct regs = *saved;
	int signal = 0, rc;

	load_syscall(&regs, syscall_ip, nr, args);
	if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) != 0)
		return -errno;

	rc = run_to_syscall_stop(tid, out, &signal);
	if (rc == 0 && signal != 0) {
		/* The call never ran. Leave the thread in this signal-delivery
		 * stop with its own registers, as a freeze that caught the signal would. */
		out->signal = signal;
		return ptrace(PTRACE_SETREGS, tid, NULL, saved) == 0 ? -EINTR : -errno;
	}
	if (rc == 0)
		rc = run_to_syscall_stop(tid, out, &signal);
	if (rc != 0)
		return rc;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) != 0)
		return -errno;
	out->result = (int64_t)regs.rax;
	return back_to_interrupt_stop(tid, saved);
}

/* Waits for the next stop of a snapshot copy. The copy is the target's
 * child, not ours, so no other thread here waits for it (wait_stop's
 * case), and a blocking wait returns the moment a pwrite64 of many
 * megabytes ends, where polling would add its interval to each call. */
static int wait_copy_stop(pid_t copy, int *status)
{
	for (;;) {
		pid_t r = waitpid(copy, status, __WALL);

		if (r == copy)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* The copy never runs again after its pages are written, so nothing of
 * its state is put back. Each PTRACE_SYSCALL resumes it with signal 0,
 * which discards any signal that reached it (a process-group SIGINT, say)
 * instead of running the target's handler in it. */
int bpfcp_copy_syscall(pid_t copy, uint64_t syscall_ip, long nr, const uint64_t args[6], int64_t *result)
{
	struct user_regs_struct regs;
	int status, rc, stops = 0;

	if (ptrace(PTRACE_GETREGS, copy, NULL, &regs) != 0)
		return -errno;
	load_syscall(&regs, syscall_ip, nr, args);
	if (ptrace(PTRACE_SETREGS, copy, NULL, &regs) != 0)
		return -errno;

	/* Two syscall stops: the entry, then the exit. */
	while (stops < 2) {
		if (ptrace(PTRACE_SYSCALL, copy, NULL, NULL) != 0)
			return -errno;
		rc = wait_copy_stop(copy, &status);
		if (rc != 0)
			return rc;
		if (WSTOPSIG(status) == SYSCALL_STOP)
			stops++;
	}
	if (ptrace(PTRACE_GETREGS, copy, NULL, &regs) != 0)
		return -errno;
	*result = (int64_t)regs.rax;
	return 0;
}

int bpfcp_copy_prepare(pid_t copy)
{
	long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;

	return ptrace(PTRACE_SETOPTIONS, copy, NULL, (void *)options) == 0 ? 0 : -errno;
}

int bpfcp_inject_syscall(pid_t tid, uint64_t syscall_ip, long nr, const uint64_t args[6],
			 struct bpfcp_injection *out)
{
	struct user_regs_struct saved;
	long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ptrace(PTRACE_GETREGS, tid, NULL, &saved) != 0)
		return -errno;
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)options) != 0)
		return -errno;

	/* A SIGINT handler must not detach the thread while it holds these registers. */
	bpfcp_hold_set_injecting(1);
	rc = inject(tid, &saved, syscall_ip, nr, args, out);
	if (rc != 0 && rc != -EINTR && rc != -ESRCH) {
		/* Best effort: the thread keeps its own registers whatever failed. */
		ptrace(PTRACE_SETREGS, tid, NULL, &saved);
	}
	bpfcp_hold_set_injecting(0);
	ptrace(PTRACE_SETOPTIONS, tid, NULL, NULL);
	return rc;
}

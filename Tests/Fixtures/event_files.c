/* Fixture: an eventfd holding 42 (semaphore, non-blocking), a one-shot
 * timerfd armed 100 s ahead, a disarmed timerfd, a signalfd on SIGUSR1 and
 * SIGRTMIN, and pidfds of a live child and of a reaped child. Prints READY
 * with the fds and pids, then waits. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	struct itimerspec later = { .it_value = { 100, 0 } };
	sigset_t mask;
	int efd, tfd, idle_tfd, sfd, live_pidfd, dead_pidfd;
	pid_t live, dead;

	efd = eventfd(42, EFD_SEMAPHORE | EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_BOOTTIME, 0);
	idle_tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (efd < 0 || tfd < 0 || idle_tfd < 0 || timerfd_settime(tfd, 0, &later, NULL) != 0) {
		perror("eventfd/timerfd");
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, 0);

	live = fork();
	if (live == 0) {
		for (;;)
			pause();
	}
	dead = fork();
	if (dead == 0)
		_exit(0);
	live_pidfd = syscall(SYS_pidfd_open, live, 0);
	dead_pidfd = syscall(SYS_pidfd_open, dead, 0);
	waitpid(dead, NULL, 0);
	if (sfd < 0 || live_pidfd < 0 || dead_pidfd < 0) {
		perror("signalfd/pidfd_open");
		return 1;
	}

	printf("READY eventfd=%d timerfd=%d idle_timerfd=%d signalfd=%d live_pidfd=%d live_pid=%d dead_pidfd=%d dead_pid=%d\n",
	       efd, tfd, idle_tfd, sfd, live_pidfd, live, dead_pidfd, dead);
	fflush(stdout);
	for (;;)
		pause();
}

/* Fixture: changes its own command line on request. SIGUSR1 overwrites
 * argv[1] in place, as setproctitle() does, which leaves the argv bounds,
 * the start time and the exec count as they were. SIGUSR2 re-executes the
 * program with the argument "exec-done", which prints READY again. Prints
 * READY, then waits; prints REWRITTEN after each in-place change. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t request;

static void on_signal(int signo)
{
	request = signo;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: argv_rewrite WORD\n");
		return 2;
	}
	sigset_t requests, waiting;

	/* Blocked outside sigsuspend(), so a signal sent right after READY is
	 * not lost before the wait starts. */
	sigemptyset(&requests);
	sigaddset(&requests, SIGUSR1);
	sigaddset(&requests, SIGUSR2);
	sigprocmask(SIG_BLOCK, &requests, &waiting);
	sigdelset(&waiting, SIGUSR1);
	sigdelset(&waiting, SIGUSR2);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	printf("READY argv1=%s\n", argv[1]);
	fflush(stdout);

	for (;;) {
		sigsuspend(&waiting);
		if (request == SIGUSR1) {
			/* Same length, so the bytes after argv[1] stay put. */
			memset(argv[1], 'r', strlen(argv[1]));
			printf("REWRITTEN argv1=%s\n", argv[1]);
			fflush(stdout);
		} else if (request == SIGUSR2) {
			char *next[] = {argv[0], "exec-done", NULL};

			execv("/proc/self/exe", next);
			return 1;
		}
		request = 0;
	}
}

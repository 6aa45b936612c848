/* Fixture: a process of known state with children in every state the process
 * list must tell apart. The parent runs THREADS extra threads, touches
 * TOUCH_PAGES pages of a private mapping, and forks:
 *   sleeper  - sleeping in pause()
 *   stopped  - stopped by SIGSTOP, confirmed with waitpid(WUNTRACED)
 *   traced   - PTRACE_TRACEME then raise(SIGUSR2): in tracing stop, traced by the parent
 *   exited   - exited with status 7, never reaped (zombie)
 *   killed   - killed by SIGTERM, never reaped (zombie)
 * Prints READY with the pids, then waits to be killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 3
#define TOUCH_PAGES 300

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static pid_t fork_or_die(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	return pid;
}

/* Returns once the child is known to be a zombie: waitid() with WNOWAIT
 * reports the exit without reaping it. */
static void wait_exited(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) != 0) {
		perror("waitid");
		exit(1);
	}
}

static void wait_stopped(pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
		fprintf(stderr, "child %d did not stop\n", pid);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	pthread_t tids[THREADS];
	pid_t sleeper, stopped, traced, exited, killed;
	char *mem;

	(void)argc;
	(void)argv;
	mem = mmap(NULL, TOUCH_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memset(mem, 1, TOUCH_PAGES * 4096);

	sleeper = fork_or_die();
	if (sleeper == 0) {
		for (;;)
			pause();
	}

	stopped = fork_or_die();
	if (stopped == 0) {
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	wait_stopped(stopped);

	traced = fork_or_die();
	if (traced == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGUSR2);
		for (;;)
			pause();
	}
	wait_stopped(traced);

	exited = fork_or_die();
	if (exited == 0)
		_exit(7);
	wait_exited(exited);

	killed = fork_or_die();
	if (killed == 0) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		_exit(1);
	}
	wait_exited(killed);

	for (int i = 0; i < THREADS; i++)
		pthread_create(&tids[i], NULL, idle_thread, NULL);

	printf("READY threads=%d sleeper=%d stopped=%d traced=%d exited=%d killed=%d touched=%d\n",
	       THREADS + 1, sleeper, stopped, traced, exited, killed, TOUCH_PAGES);
	fflush(stdout);
	for (;;)
		pause();
}

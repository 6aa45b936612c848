/* Fixture: a parent that never reaps a child it killed with SIGKILL.
 * Prints READY with the zombie's pid once the child is a zombie, then waits. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	siginfo_t info;
	pid_t child = fork();

	if (child == 0) {
		for (;;)
			pause();
	}
	kill(child, SIGKILL);
	/* WNOWAIT leaves the child a zombie after waiting for it to die. */
	waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT);
	printf("READY zombie=%d\n", (int)child);
	fflush(stdout);
	for (;;)
		pause();
}

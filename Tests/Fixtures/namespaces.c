/* A child in new uts, ipc, cgroup, time and pid namespaces. The parent
 * prints the child's pid in the initial namespace. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
	pid_t child;

	if (unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME | CLONE_NEWPID) != 0) {
		perror("unshare");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	printf("READY child=%d\n", child);
	fflush(stdout);
	for (;;)
		pause();
}

/* Traces the process given as argv[1] with PTRACE_SEIZE and keeps it
 * traced (running) until killed, the way strace or gdb would. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t target = argc > 1 ? atoi(argv[1]) : 0;

	if (target <= 0 || ptrace(PTRACE_SEIZE, target, NULL, NULL) != 0) {
		perror("PTRACE_SEIZE");
		return 1;
	}
	printf("READY tracer=%d target=%d\n", getpid(), target);
	fflush(stdout);
	for (;;)
		pause();
}

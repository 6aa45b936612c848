/* Holds one resource that restore rejects, chosen by argv[1]: "pipe" (a
 * pipe with 5 queued bytes), "deleted" (an open file that was deleted), or
 * "thread" (a second thread). Prints READY and waits to be killed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	close_range(3, ~0U, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "pipe") == 0) {
		int p[2];
		if (pipe(p) != 0 || write(p[1], "hello", 5) != 5) { perror("pipe"); return 1; }
	} else if (strcmp(mode, "deleted") == 0) {
		char path[] = "/tmp/bpfcp-refused-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0) { perror("mkstemp"); return 1; }
		unlink(path);
	} else if (strcmp(mode, "thread") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle, NULL) != 0) { perror("pthread_create"); return 1; }
	} else {
		fprintf(stderr, "usage: restore_refused pipe|deleted|thread\n");
		return 2;
	}
	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);
	for (;;)
		pause();
}

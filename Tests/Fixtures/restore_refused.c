/* Holds one resource that restore rejects, chosen by argv[1]: "tcp" (an
 * established TCP connection over 127.0.0.1, both ends in the process),
 * "deleted" (an open file that was deleted), "thread" (a second thread),
 * "privatememfd" (a memfd mapped MAP_PRIVATE only, its fd closed), or
 * "sysvshm" (an attached SysV shared memory segment, already removed).
 * Prints READY and waits to be killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
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
	if (strcmp(mode, "tcp") == 0) {
		struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t size = sizeof(address);
		int listener = socket(AF_INET, SOCK_STREAM, 0);
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&address, size) != 0 || listen(listener, 1) != 0 ||
		    getsockname(listener, (struct sockaddr *)&address, &size) != 0 ||
		    connect(client, (struct sockaddr *)&address, size) != 0 || accept(listener, NULL, NULL) < 0) {
			perror("tcp");
			return 1;
		}
	} else if (strcmp(mode, "deleted") == 0) {
		char path[] = "/tmp/bpfcp-refused-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0) { perror("mkstemp"); return 1; }
		unlink(path);
	} else if (strcmp(mode, "thread") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle, NULL) != 0) { perror("pthread_create"); return 1; }
	} else if (strcmp(mode, "privatememfd") == 0) {
		int fd = memfd_create("private-only", 0);
		if (fd < 0 || ftruncate(fd, 4096) != 0 || mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			perror("memfd");
			return 1;
		}
		close(fd);
	} else if (strcmp(mode, "sysvshm") == 0) {
		int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		if (id < 0 || shmat(id, NULL, 0) == (void *)-1) { perror("shm"); return 1; }
		shmctl(id, IPC_RMID, NULL);
	} else {
		fprintf(stderr, "usage: restore_refused tcp|deleted|thread|privatememfd|sysvshm\n");
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

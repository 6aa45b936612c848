/* Fixture for diff tests: on SIGUSR1 it changes its state in known ways
 * (seek, open, close, grow the heap by 2 MiB, start a thread, change the
 * SIGUSR2 handler), then prints STEPPED. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t step_requested;

static void on_usr1(int sig)
{
	(void)sig;
	step_requested = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int make_file(const char *dir, const char *name)
{
	char path[512], block[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(block, 'd', sizeof(block));
	if (fd < 0 || write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
		exit(1);
	return fd;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-diff-XXXXXX";
	struct sigaction sa;
	pthread_t tid;
	int seek_fd, close_fd, new_fd;
	char *heap_end;

	if (!mkdtemp(dir))
		return 1;
	seek_fd = make_file(dir, "seek");
	lseek(seek_fd, 100, SEEK_SET);
	close_fd = make_file(dir, "closing");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	heap_end = sbrk(0);
	printf("READY dir=%s seek_fd=%d close_fd=%d heap_end=%lx\n", dir, seek_fd, close_fd, (unsigned long)heap_end);
	fflush(stdout);

	while (!step_requested)
		pause();

	lseek(seek_fd, 4096, SEEK_SET);
	new_fd = make_file(dir, "opened");
	close(close_fd);
	heap_end = sbrk(2 << 20);
	memset(heap_end, 1, 2 << 20);
	pthread_create(&tid, NULL, idle_thread, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);

	printf("STEPPED new_fd=%d\n", new_fd);
	fflush(stdout);
	for (;;)
		pause();
}

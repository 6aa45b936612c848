/* Fixture for command-line tests: a process with one extra thread, /dev/null
 * open, a pipe, a unix socket pair, an eventfd watched by an epoll fd and an
 * inotify watch on /tmp. Prints READY with the
 * thread's id and the /dev/null fd, then waits, or exits after argv[1]
 * milliseconds when given. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile pid_t worker_tid;

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t thread;
	int fd = open("/dev/null", O_RDONLY);
	int pipe_fds[2], socket_fds[2];
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = 7 };
	int efd, epfd, ifd;

	if (fd < 0 || pipe(pipe_fds) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, socket_fds) != 0)
		return 1;
	efd = eventfd(3, 0);
	epfd = epoll_create1(0);
	ifd = inotify_init1(0);
	if (efd < 0 || epfd < 0 || ifd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &event) != 0)
		return 1;
	if (inotify_add_watch(ifd, "/tmp", IN_CREATE) < 0 || pthread_create(&thread, NULL, worker, NULL) != 0)
		return 1;
	while (worker_tid == 0)
		usleep(1000);
	printf("READY tid=%d fd=%d\n", (int)worker_tid, fd);
	fflush(stdout);
	if (argc > 1) {
		usleep((useconds_t)atoi(argv[1]) * 1000);
		exit(0);
	}
	for (;;)
		pause();
}

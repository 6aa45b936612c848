/* Fixture: at least one fd of every kind the shared fd-table pass reads.
 * These are a regular file, /dev/null, a pipe, an eventfd (count 5), a disarmed
 * timerfd, a signalfd, a pidfd, a unix socketpair with 3 bytes queued, a
 * loopback TCP listener with one connection (both ends, 4 bytes queued), a
 * UDP socket, an epoll fd watching the pipe and the eventfd, an inotify fd
 * watching a directory, a sealed memfd and an io_uring instance. Files live
 * in a new directory under /tmp, printed as dir=. Prints READY dir=PATH. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int check(int fd, const char *what)
{
	if (fd < 0) {
		perror(what);
		exit(1);
	}
	return fd;
}

static void watch(int epfd, int fd, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.u64 = 0x1000 + (unsigned)fd };

	check(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
}

/* A loopback TCP connection: listener, client and accepted ends. */
static void tcp_pair(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int listener = check(socket(AF_INET, SOCK_STREAM, 0), "socket");
	int client, server;

	check(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), "bind");
	check(listen(listener, 4), "listen");
	check(getsockname(listener, (struct sockaddr *)&addr, &len), "getsockname");
	client = check(socket(AF_INET, SOCK_STREAM, 0), "socket");
	check(connect(client, (struct sockaddr *)&addr, sizeof(addr)), "connect");
	server = check(accept(listener, NULL, NULL), "accept");
	check((int)write(client, "tcp!", 4), "write");
	(void)server;
}

static void udp_socket(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = check(socket(AF_INET, SOCK_DGRAM, 0), "socket");

	check(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), "bind");
}

static void event_files(int *efd)
{
	sigset_t mask;

	*efd = check(eventfd(5, EFD_NONBLOCK), "eventfd");
	check(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), "timerfd_create");
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	check(signalfd(-1, &mask, 0), "signalfd");
	check((int)syscall(SYS_pidfd_open, getpid(), 0), "pidfd_open");
}

static void memfd_and_ring(void)
{
	struct io_uring_params params;
	int memfd = check(memfd_create("fdkinds", MFD_ALLOW_SEALING), "memfd_create");

	check(ftruncate(memfd, 8192), "ftruncate");
	check(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), "F_ADD_SEALS");
	memset(&params, 0, sizeof(params));
	check((int)syscall(__NR_io_uring_setup, 4, &params), "io_uring_setup");
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-fdkinds-XXXXXX";
	char path[256];
	int pipefd[2], pair[2], efd, epfd, notify;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/plain", dir);
	check(open(path, O_RDWR | O_CREAT | O_APPEND, 0600), path);
	check(open("/dev/null", O_RDONLY), "/dev/null");
	check(pipe(pipefd), "pipe");
	check((int)write(pipefd[1], "pipe", 4), "write");
	event_files(&efd);

	check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), "socketpair");
	check((int)write(pair[0], "abc", 3), "write");
	tcp_pair();
	udp_socket();

	epfd = check(epoll_create1(0), "epoll_create1");
	watch(epfd, pipefd[0], EPOLLIN);
	watch(epfd, efd, EPOLLIN | EPOLLET);
	notify = check(inotify_init1(IN_NONBLOCK), "inotify_init1");
	check(inotify_add_watch(notify, dir, IN_CREATE | IN_DELETE), "inotify_add_watch");
	memfd_and_ring();

	printf("READY dir=%s\n", dir);
	fflush(stdout);
	for (;;)
		pause();
}

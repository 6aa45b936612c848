/* Target of tools/bench/full_dump.sh: argv[1] open fds (10,000 by default)
 * of mixed kinds. Sockets: 1,000 unix socketpairs and 250 loopback TCP
 * connections, both ends of each, the listener and 100 UDP sockets. Then
 * 1,000 pipes (both ends), 1,400 eventfds, 100 timerfds (50 armed with a
 * 1 s interval) and 200 epoll fds watching 5 fds each. Regular files fill
 * the rest: 100 unlinked files, duplicated in turn.
 * Prints READY pid=PID fds=N, then waits until killed. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int n = 0;

	if (!dir)
		fail("opendir /proc/self/fd");
	while ((entry = readdir(dir)))
		if (entry->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

static void open_tcp(int connections)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int listener = socket(AF_INET, SOCK_STREAM, 0);

	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, len) || listen(listener, connections) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len))
		fail("TCP listener");
	for (int i = 0; i < connections; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);

		if (client < 0 || connect(client, (struct sockaddr *)&addr, len) || accept(listener, NULL, NULL) < 0)
			fail("TCP connection");
	}
}

int main(int argc, char **argv)
{
	int total = argc > 1 ? atoi(argv[1]) : 10000;
	struct rlimit limit;
	int watched[2400], nwatched = 0, files[100];
	struct itimerspec every_second = { .it_interval.tv_sec = 1, .it_value.tv_sec = 1 };

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	for (int i = 0; i < 1000; i++) {
		int pair[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
			fail("socketpair");
	}
	open_tcp(250);
	for (int i = 0; i < 100; i++)
		if (socket(AF_INET, SOCK_DGRAM, 0) < 0)
			fail("UDP socket");
	for (int i = 0; i < 1000; i++) {
		int ends[2];

		if (pipe(ends))
			fail("pipe");
		watched[nwatched++] = ends[0];
	}
	for (int i = 0; i < 1400; i++) {
		int fd = eventfd(i, 0);

		if (fd < 0)
			fail("eventfd");
		watched[nwatched++] = fd;
	}
	for (int i = 0; i < 100; i++) {
		int fd = timerfd_create(CLOCK_MONOTONIC, 0);

		if (fd < 0 || (i % 2 == 0 && timerfd_settime(fd, 0, &every_second, NULL)))
			fail("timerfd");
	}
	for (int i = 0; i < 200; i++) {
		int epoll = epoll_create1(0);

		if (epoll < 0)
			fail("epoll_create1");
		for (int j = 0; j < 5; j++) {
			struct epoll_event event = { .events = EPOLLIN, .data.u64 = (unsigned)(i * 5 + j) };

			if (epoll_ctl(epoll, EPOLL_CTL_ADD, watched[(i * 5 + j) % nwatched], &event))
				fail("epoll_ctl");
		}
	}

	for (int i = 0; i < 100; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/tmp/bpfcp-bench-mixed-%d-%d", getpid(), i);
		files[i] = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (files[i] < 0)
			fail(path);
		unlink(path);
	}
	for (int open_fds = count_fds(), i = 0; open_fds < total; open_fds++, i++)
		if (dup(files[i % 100]) < 0)
			fail("dup");

	printf("READY pid=%d fds=%d\n", getpid(), count_fds());
	fflush(stdout);
	for (;;)
		pause();
}

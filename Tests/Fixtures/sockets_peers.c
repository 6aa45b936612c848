/* Connections whose other end is in a child process: a unix socketpair
 * split across fork(), and a loopback TCP connection the child opened to
 * a listener of the parent. With an argument N, the parent also holds N
 * more socketpairs, both ends, so that the peers looked up outnumber
 * what one pass of the owner lookup takes.
 * Prints READY child=PID unix=FD child_unix=FD tcp=FD child_tcp=FD pairs=N. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void raise_fd_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

int main(int argc, char **argv)
{
	int extra_pairs = argc > 1 ? atoi(argv[1]) : 0;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int pair[2], listener, accepted, client = -1, ready[2];
	pid_t child;

	raise_fd_limit();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) || pipe(ready))
		fail("socketpair");
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 4) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len))
		fail("listen");

	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		close(pair[0]);
		close(listener);
		client = socket(AF_INET, SOCK_STREAM, 0);
		if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof(addr)))
			fail("connect");
		dprintf(ready[1], "%d %d\n", pair[1], client);
		for (;;)
			pause();
	}

	close(pair[1]);
	accepted = accept(listener, NULL, NULL);
	if (accepted < 0)
		fail("accept");
	int child_unix = 0, child_tcp = 0;
	FILE *from_child = fdopen(ready[0], "r");
	if (!from_child || fscanf(from_child, "%d %d", &child_unix, &child_tcp) != 2)
		fail("child fds");

	for (int i = 0; i < extra_pairs; i++) {
		int more[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, more))
			fail("extra socketpair");
	}
	printf("READY child=%d unix=%d child_unix=%d tcp=%d child_tcp=%d pairs=%d\n", child, pair[0], child_unix,
	       accepted, child_tcp, extra_pairs);
	fflush(stdout);
	for (;;)
		pause();
}

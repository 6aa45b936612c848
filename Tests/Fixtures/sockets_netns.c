/* Fixture: a unix stream connection made across network namespaces. The
 * parent listens on a path. A child moves to a new network namespace,
 * connects through the file system (which unix sockets allow across
 * namespaces) and writes 9 bytes that the parent leaves unread. Prints
 * READY, then waits. The child stays in the fixture's process group. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHILD_BYTES 9

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void run_child(const struct sockaddr_un *addr)
{
	int fd;

	if (unshare(CLONE_NEWNET) != 0)
		fail("unshare(CLONE_NEWNET)");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
		fail("child connect");
	if (write(fd, "other-ns!", CHILD_BYTES) != CHILD_BYTES)
		fail("child write");
	for (;;)
		pause();
}

int main(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int listener, conn, queued = 0;
	pid_t child;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/bpfcp-netns-%d.sock", getpid());
	unlink(addr.sun_path);
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(listener, 1) != 0)
		fail("listen");

	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0)
		run_child(&addr);

	conn = accept(listener, NULL, NULL);
	if (conn < 0)
		fail("accept");
	for (int i = 0; i < 2000 && queued < CHILD_BYTES; i++) {
		ioctl(conn, FIONREAD, &queued);
		usleep(1000);
	}
	unlink(addr.sun_path);

	printf("READY conn=%d listener=%d child=%d child_bytes=%d\n", conn, listener, child, CHILD_BYTES);
	fflush(stdout);
	for (;;)
		pause();
}

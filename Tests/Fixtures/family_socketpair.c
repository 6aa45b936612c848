/* Fixture for a family restore with socket pairs split across processes:
 * a stream pair with bytes queued in both directions and a datagram pair
 * holding two datagrams, created before fork(). The parent keeps one
 * socket of each pair (the stream one O_NONBLOCK), the child the other.
 * Prints "READY child=PID" and both wait to be killed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	int stream[2], dgram[2];
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, stream) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram))
		return 1;
	if (send(stream[0], "to-child", 8, 0) != 8 || send(stream[1], "to-parent!", 10, 0) != 10)
		return 1;
	if (send(dgram[0], "d1", 2, 0) != 2 || send(dgram[0], "d22", 3, 0) != 3)
		return 1;
	fcntl(stream[0], F_SETFL, O_NONBLOCK);
	pid_t child = fork();
	if (child == 0) {
		close(stream[0]);
		close(dgram[0]);
		for (;;)
			pause();
	}
	close(stream[1]);
	close(dgram[1]);
	printf("READY child=%d\n", child);
	fflush(stdout);
	for (;;)
		pause();
}

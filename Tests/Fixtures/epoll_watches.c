/* Fixture: an epoll fd watching an eventfd (EPOLLIN|EPOLLET, data
 * 0x1122334455667788) and a pipe's write end (EPOLLOUT, data 7), and a
 * second epoll fd without watches. An argument N adds N eventfds watched
 * with EPOLLIN and data equal to their fd. Prints READY with the fds, then waits. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int extra = argc > 1 ? atoi(argv[1]) : 0;
	struct epoll_event on_eventfd = { .events = EPOLLIN | EPOLLET, .data.u64 = 0x1122334455667788ULL };
	struct epoll_event on_pipe = { .events = EPOLLOUT, .data.u64 = 7 };
	int epfd, empty, efd, pipefd[2];

	epfd = epoll_create1(0);
	empty = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, 0);
	if (epfd < 0 || empty < 0 || efd < 0 || pipe(pipefd) != 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &on_eventfd) != 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, pipefd[1], &on_pipe) != 0) {
		perror("epoll");
		return 1;
	}
	for (int i = 0; i < extra; i++) {
		int fd = eventfd(0, 0);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = fd };

		if (fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			perror("epoll_ctl");
			return 1;
		}
	}

	printf("READY epoll=%d empty_epoll=%d eventfd=%d pipe_w=%d\n", epfd, empty, efd, pipefd[1]);
	fflush(stdout);
	for (;;)
		pause();
}

/* Fixture for restoring inter-process fds. Usage: restore_queues DIR PART...
 * where each PART adds state:
 *   pipe        a 1 MiB pipe holding 100000 patterned bytes, written in
 *               pieces of varying size, and a 64 KiB pipe holding "hello"
 *               whose read end is O_NONBLOCK
 *   socketpair  a unix stream pair with bytes queued in both directions,
 *               a datagram pair holding three datagrams, a seqpacket pair
 *               holding two, and a stream pair whose writer has shut down
 *               writing after its last message
 *   epoll       an epoll fd watching a pipe, an eventfd (edge-triggered)
 *               and a socket, each with its own user data
 *   fifo        the FIFO DIR/fifo open for reading (O_NONBLOCK) and for writing,
 *               holding "fifo-bytes", and the FIFO DIR/fifo-rw open once
 *               O_RDWR with a 128 KiB capacity, holding "rw-fifo"
 *   listen      a TCP listener on 127.0.0.1 with backlog 7 and SO_REUSEADDR,
 *               a unix listener bound to DIR/listener.sock with backlog 3 and
 *               one bound to an abstract name with backlog 5
 * After READY its stdio is /dev/null. On SIGUSR1 it checks every part,
 * reading the queues (which empties them), and writes "pass" or
 * "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define BIG_QUEUED 100000

static const char *dir;
static int big[2], small[2];
static int stream[2], dgram[2], seqpacket[2], halfclosed[2];
static int epfd, watched_pipe[2], watched_event;
static int tcp_listener, unix_listener, abstract_listener;
static int fifo_reader, fifo_writer, fifo_rw;
static struct sockaddr_in tcp_address;
static char abstract_name[64];
/* Flags of the parts named on the command line. */
static int pipes, sockets, epoll, listeners, fifos;

#define FAIL(...) do { snprintf(why, len, __VA_ARGS__); return 0; } while (0)

static unsigned char pattern(size_t i) { return (unsigned char)((i * 131) ^ (i >> 7)); }

static int setup_pipes(void)
{
	if (pipe(big) != 0 || pipe2(small, 0) != 0)
		return -1;
	if (fcntl(big[0], F_SETPIPE_SZ, 1 << 20) != 1 << 20)
		return -1;
	unsigned char bytes[BIG_QUEUED];
	for (size_t i = 0; i < BIG_QUEUED; i++)
		bytes[i] = pattern(i);
	for (size_t done = 0, piece = 1; done < BIG_QUEUED; piece = piece * 3 + 1) {
		size_t n = piece < BIG_QUEUED - done ? piece : BIG_QUEUED - done;
		if (write(big[1], bytes + done, n) != (ssize_t)n)
			return -1;
		done += n;
	}
	if (write(small[1], "hello", 5) != 5)
		return -1;
	return fcntl(small[0], F_SETFL, O_NONBLOCK);
}

static int check_pipes(char *why, size_t len)
{
	int queued = -1;
	if (fcntl(big[0], F_GETPIPE_SZ) != 1 << 20) FAIL("big pipe capacity %d", fcntl(big[0], F_GETPIPE_SZ));
	if (ioctl(big[0], FIONREAD, &queued) != 0 || queued != BIG_QUEUED) FAIL("big pipe holds %d bytes", queued);
	static unsigned char bytes[BIG_QUEUED];
	for (size_t done = 0; done < BIG_QUEUED;) {
		ssize_t n = read(big[0], bytes + done, BIG_QUEUED - done);
		if (n <= 0) FAIL("big pipe read %zd", n);
		done += (size_t)n;
	}
	for (size_t i = 0; i < BIG_QUEUED; i++)
		if (bytes[i] != pattern(i)) FAIL("big pipe byte %zu", i);
	if (fcntl(small[0], F_GETPIPE_SZ) != 65536) FAIL("small pipe capacity");
	if (!(fcntl(small[0], F_GETFL) & O_NONBLOCK)) FAIL("small pipe read end lost O_NONBLOCK");
	char text[16] = { 0 };
	if (read(small[0], text, sizeof(text)) != 5 || memcmp(text, "hello", 5) != 0) FAIL("small pipe holds '%s'", text);
	if (read(small[0], text, 1) != -1 || errno != EAGAIN) FAIL("small pipe holds more than hello");
	if (write(big[1], "x", 1) != 1 || read(big[0], text, 1) != 1 || text[0] != 'x') FAIL("big pipe after draining");
	return 1;
}

static int setup_sockets(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, stream) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, seqpacket) || socketpair(AF_UNIX, SOCK_STREAM, 0, halfclosed))
		return -1;
	unsigned char bytes[3000];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = pattern(i + 5);
	if (send(stream[0], "ping-from-0", 11, 0) != 11 || send(stream[0], bytes, sizeof(bytes), 0) != sizeof(bytes))
		return -1;
	if (send(stream[1], "pong", 4, 0) != 4)
		return -1;
	if (send(dgram[0], "abc", 3, 0) != 3 || send(dgram[0], bytes, 500, 0) != 500 || send(dgram[0], "seventh", 7, 0) != 7)
		return -1;
	if (send(seqpacket[1], "first", 5, 0) != 5 || send(seqpacket[1], "second!", 7, 0) != 7)
		return -1;
	if (send(halfclosed[0], "bye", 3, 0) != 3 || shutdown(halfclosed[0], SHUT_WR) != 0)
		return -1;
	return 0;
}

static int expect_message(int fd, const void *want, size_t size, const char *what, char *why, size_t len)
{
	char got[4096];
	ssize_t n = recv(fd, got, sizeof(got), MSG_DONTWAIT);
	if (n != (ssize_t)size || memcmp(got, want, size) != 0) FAIL("%s: got %zd bytes, expected %zu", what, n, size);
	return 1;
}

static int check_sockets(char *why, size_t len)
{
	unsigned char bytes[3000];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = pattern(i + 5);
	int queued = -1;
	if (ioctl(stream[1], FIONREAD, &queued) != 0 || queued != 3011) FAIL("stream end 1 holds %d bytes", queued);
	if (ioctl(stream[0], FIONREAD, &queued) != 0 || queued != 4) FAIL("stream end 0 holds %d bytes", queued);
	unsigned char got[3011];
	size_t done = 0;
	while (done < sizeof(got)) {
		ssize_t n = recv(stream[1], got + done, sizeof(got) - done, MSG_DONTWAIT);
		if (n <= 0) FAIL("stream end 1 read %zd after %zu bytes", n, done);
		done += (size_t)n;
	}
	if (memcmp(got, "ping-from-0", 11) != 0 || memcmp(got + 11, bytes, sizeof(bytes)) != 0) FAIL("stream end 1 content");
	if (!expect_message(stream[0], "pong", 4, "stream end 0", why, len)) return 0;
	if (send(stream[0], "again", 5, 0) != 5 || !expect_message(stream[1], "again", 5, "stream after restore", why, len)) return 0;

	if (!expect_message(dgram[1], "abc", 3, "datagram 1", why, len)) return 0;
	if (!expect_message(dgram[1], bytes, 500, "datagram 2", why, len)) return 0;
	if (!expect_message(dgram[1], "seventh", 7, "datagram 3", why, len)) return 0;
	if (recv(dgram[1], got, 1, MSG_DONTWAIT) != -1) FAIL("a fourth datagram");
	if (!expect_message(seqpacket[0], "first", 5, "seqpacket 1", why, len)) return 0;
	if (!expect_message(seqpacket[0], "second!", 7, "seqpacket 2", why, len)) return 0;
	if (send(seqpacket[0], "back", 4, 0) != 4 || !expect_message(seqpacket[1], "back", 4, "seqpacket reply", why, len)) return 0;

	if (!expect_message(halfclosed[1], "bye", 3, "half-closed stream", why, len)) return 0;
	ssize_t end = recv(halfclosed[1], got, 1, MSG_DONTWAIT);
	if (end != 0) FAIL("half-closed stream gave %zd instead of end of file", end);
	if (send(halfclosed[0], "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) FAIL("half-closed writer can still send");
	return 1;
}

static int setup_epoll(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	watched_event = eventfd(3, EFD_NONBLOCK);
	if (epfd < 0 || watched_event < 0 || pipe(watched_pipe) != 0)
		return -1;
	if (stream[0] == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, stream) != 0)
		return -1;
	struct epoll_event pipe_event = { .events = EPOLLIN, .data.u64 = 0x1111 };
	struct epoll_event event_event = { .events = EPOLLIN | EPOLLET, .data.u64 = 0xdeadbeefcafeull };
	struct epoll_event socket_event = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = 7 };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, watched_pipe[0], &pipe_event) || epoll_ctl(epfd, EPOLL_CTL_ADD, watched_event, &event_event) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, stream[0], &socket_event))
		return -1;
	return 0;
}

/* Finds the "tfd: FD events: HEX data: HEX" line of fd in the epoll's fdinfo. */
static int watch_of(int fd, unsigned *events, unsigned long long *data)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int found = 0;
	while (fgets(text, sizeof(text), f)) {
		int tfd;
		if (sscanf(text, "tfd: %d events: %x data: %llx", &tfd, events, data) == 3 && tfd == fd) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static int check_epoll(char *why, size_t len)
{
	struct { int fd; unsigned events; unsigned long long data; } want[] = {
		{ watched_pipe[0], EPOLLIN | EPOLLERR | EPOLLHUP, 0x1111 },
		{ watched_event, EPOLLIN | EPOLLET | EPOLLERR | EPOLLHUP, 0xdeadbeefcafeull },
		{ stream[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP, 7 },
	};
	for (int i = 0; i < 3; i++) {
		unsigned events = 0;
		unsigned long long data = 0;
		if (!watch_of(want[i].fd, &events, &data)) FAIL("epoll does not watch fd %d", want[i].fd);
		if (events != want[i].events) FAIL("epoll watch of fd %d has events %#x, expected %#x", want[i].fd, events, want[i].events);
		if (data != want[i].data) FAIL("epoll watch of fd %d has data %#llx", want[i].fd, data);
	}
	if (!(fcntl(epfd, F_GETFD) & FD_CLOEXEC)) FAIL("epoll fd lost close-on-exec");
	if (write(watched_pipe[1], "e", 1) != 1) FAIL("write to the watched pipe");
	struct epoll_event ready[8];
	int n = epoll_wait(epfd, ready, 8, 1000);
	int saw_pipe = 0, saw_event = 0;
	for (int i = 0; i < n; i++) {
		saw_pipe |= ready[i].data.u64 == 0x1111;
		saw_event |= ready[i].data.u64 == 0xdeadbeefcafeull;
	}
	if (!saw_pipe || !saw_event) FAIL("epoll_wait returned %d events without the pipe (%d) or the eventfd (%d)", n, saw_pipe, saw_event);
	return 1;
}

static int make_fifo(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
	unlink(path);
	return mkfifo(path, 0600);
}

static int setup_fifos(void)
{
	char path[4096];
	if (make_fifo("fifo", path, sizeof(path)) != 0)
		return -1;
	fifo_reader = open(path, O_RDONLY | O_NONBLOCK);
	fifo_writer = open(path, O_WRONLY);
	if (fifo_reader < 0 || fifo_writer < 0 || write(fifo_writer, "fifo-bytes", 10) != 10)
		return -1;
	if (make_fifo("fifo-rw", path, sizeof(path)) != 0)
		return -1;
	fifo_rw = open(path, O_RDWR);
	if (fifo_rw < 0 || fcntl(fifo_rw, F_SETPIPE_SZ, 131072) != 131072 || write(fifo_rw, "rw-fifo", 7) != 7)
		return -1;
	return 0;
}

static int check_fifos(char *why, size_t len)
{
	char text[32] = { 0 };
	int queued = -1;
	if (ioctl(fifo_reader, FIONREAD, &queued) != 0 || queued != 10) FAIL("fifo holds %d bytes", queued);
	if (read(fifo_reader, text, sizeof(text)) != 10 || memcmp(text, "fifo-bytes", 10) != 0) FAIL("fifo holds '%s'", text);
	if (!(fcntl(fifo_reader, F_GETFL) & O_NONBLOCK)) FAIL("fifo reader lost O_NONBLOCK");
	if ((fcntl(fifo_writer, F_GETFL) & O_ACCMODE) != O_WRONLY) FAIL("fifo writer is not O_WRONLY");
	if (write(fifo_writer, "z", 1) != 1 || read(fifo_reader, text, 1) != 1 || text[0] != 'z') FAIL("fifo after restore");
	if (fcntl(fifo_rw, F_GETPIPE_SZ) != 131072) FAIL("read-write fifo capacity %d", fcntl(fifo_rw, F_GETPIPE_SZ));
	memset(text, 0, sizeof(text));
	if (read(fifo_rw, text, sizeof(text)) != 7 || memcmp(text, "rw-fifo", 7) != 0) FAIL("read-write fifo holds '%s'", text);
	return 1;
}

static int listen_on(int fd, const struct sockaddr *address, socklen_t size, int backlog)
{
	return fd < 0 || bind(fd, address, size) != 0 || listen(fd, backlog) != 0 ? -1 : 0;
}

static int setup_listeners(void)
{
	int on = 1;
	tcp_listener = socket(AF_INET, SOCK_STREAM, 0);
	tcp_address.sin_family = AF_INET;
	tcp_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(tcp_listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (listen_on(tcp_listener, (struct sockaddr *)&tcp_address, sizeof(tcp_address), 7) != 0)
		return -1;
	socklen_t size = sizeof(tcp_address);
	getsockname(tcp_listener, (struct sockaddr *)&tcp_address, &size);

	struct sockaddr_un path = { .sun_family = AF_UNIX };
	snprintf(path.sun_path, sizeof(path.sun_path), "%s/listener.sock", dir);
	unlink(path.sun_path);
	unix_listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listen_on(unix_listener, (struct sockaddr *)&path, sizeof(path), 3) != 0)
		return -1;

	struct sockaddr_un abstract = { .sun_family = AF_UNIX };
	snprintf(abstract_name, sizeof(abstract_name), "bpfcp-listener-%d", getpid());
	memcpy(abstract.sun_path + 1, abstract_name, strlen(abstract_name));
	abstract_listener = socket(AF_UNIX, SOCK_STREAM, 0);
	return listen_on(abstract_listener, (struct sockaddr *)&abstract,
			 offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name), 5);
}

/* Connects a new socket to address and accepts it on listener. */
static int connect_and_accept(int listener, int family, const struct sockaddr *address, socklen_t size)
{
	int client = socket(family, SOCK_STREAM, 0);
	if (client < 0 || connect(client, address, size) != 0)
		return 0;
	int accepted = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
	int ok = accepted >= 0 && send(client, "k", 1, 0) == 1;
	char byte = 0;
	ok = ok && recv(accepted, &byte, 1, 0) == 1 && byte == 'k';
	close(client);
	if (accepted >= 0)
		close(accepted);
	return ok;
}

static int check_listeners(char *why, size_t len)
{
	int value = 0;
	socklen_t size = sizeof(value);
	if (getsockopt(tcp_listener, SOL_SOCKET, SO_ACCEPTCONN, &value, &size) || !value) FAIL("TCP socket is not listening");
	if (getsockopt(tcp_listener, SOL_SOCKET, SO_REUSEADDR, &value, &size) || !value) FAIL("TCP listener lost SO_REUSEADDR");
	struct sockaddr_in bound;
	size = sizeof(bound);
	getsockname(tcp_listener, (struct sockaddr *)&bound, &size);
	if (bound.sin_port != tcp_address.sin_port || bound.sin_addr.s_addr != tcp_address.sin_addr.s_addr) FAIL("TCP listener address");
	if (!connect_and_accept(tcp_listener, AF_INET, (struct sockaddr *)&tcp_address, sizeof(tcp_address))) FAIL("TCP connect and accept");

	struct sockaddr_un path = { .sun_family = AF_UNIX };
	snprintf(path.sun_path, sizeof(path.sun_path), "%s/listener.sock", dir);
	if (!connect_and_accept(unix_listener, AF_UNIX, (struct sockaddr *)&path, sizeof(path))) FAIL("unix connect and accept");
	struct sockaddr_un abstract = { .sun_family = AF_UNIX };
	memcpy(abstract.sun_path + 1, abstract_name, strlen(abstract_name));
	socklen_t abstract_size = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name);
	if (!connect_and_accept(abstract_listener, AF_UNIX, (struct sockaddr *)&abstract, abstract_size)) FAIL("abstract connect and accept");
	return 1;
}

/* Checks every part named on the command line, stopping at the first failure. */
static int check_parts(char *why, size_t len)
{
	return (!pipes || check_pipes(why, len)) && (!sockets || check_sockets(why, len)) && (!epoll || check_epoll(why, len)) &&
	       (!listeners || check_listeners(why, len)) && (!fifos || check_fifos(why, len));
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: restore_queues DIR PART...\n"); return 2; }
	dir = argv[1];
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	for (int i = 2; i < argc; i++) {
		pipes |= strcmp(argv[i], "pipe") == 0;
		sockets |= strcmp(argv[i], "socketpair") == 0;
		epoll |= strcmp(argv[i], "epoll") == 0;
		listeners |= strcmp(argv[i], "listen") == 0;
		fifos |= strcmp(argv[i], "fifo") == 0;
	}
	if ((pipes && setup_pipes()) || (sockets && setup_sockets()) || (epoll && setup_epoll()) || (listeners && setup_listeners()) ||
	    (fifos && setup_fifos())) {
		perror("setup");
		return 1;
	}
	request_checks_on_signal();

	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	detach_stdio();

	serve_signal_checks(dir, check_parts);
}

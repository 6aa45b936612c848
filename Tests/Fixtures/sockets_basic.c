/* Fixture: one socket of each kind the sockets tests check, all on
 * loopback: a unix socketpair with 37 queued bytes, an abstract unix
 * datagram socket, a UDP socket on 127.0.0.1 with options set, a TCP
 * listener with backlog 7 holding two unaccepted connections (one with
 * 11 bytes received), an IPv6 loopback connection with 5 unread bytes at
 * the server end, a NETLINK_ROUTE socket, a socketpair whose reader took 7
 * of 20 bytes, and a datagram socketpair with two datagrams of 10 and 20
 * bytes queued, a socketpair with two fds in flight (SCM_RIGHTS) and an
 * unbound packet socket. Prints READY, then waits. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PAIR_BYTES 37
#define PENDING_BYTES 11
#define V6_BYTES 5
#define BACKLOG 7
#define PARTIAL_SENT 20
#define PARTIAL_READ 7
#define DGRAM_FIRST 10
#define DGRAM_SECOND 20
#define RIGHTS_FDS 2

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

static int local_port(int fd)
{
	struct sockaddr_in6 addr;
	socklen_t len = sizeof(addr);

	if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
		fail("getsockname");
	return ntohs(addr.sin6_port);	/* sin_port sits at the same offset */
}

/* Waits until fd has n bytes to read, so the READY line describes settled queues. */
static void wait_readable(int fd, int n)
{
	int queued = 0;

	for (int i = 0; i < 2000 && queued < n; i++) {
		ioctl(fd, FIONREAD, &queued);
		usleep(1000);
	}
}

/* Sends two fds (stdin and stdout) with SCM_RIGHTS over a new socketpair and
 * returns the receiving end, which leaves the message unread. */
static int rights_pair(void)
{
	int pair[2], fds[RIGHTS_FDS] = { 0, 1 };
	char control[CMSG_SPACE(sizeof(fds))], byte = 'r';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || sendmsg(pair[0], &msg, 0) != 1)
		fail("SCM_RIGHTS socketpair");
	return pair[1];
}

static int udp_socket(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) || set_int(fd, SOL_SOCKET, SO_BROADCAST, 1) ||
	    set_int(fd, SOL_SOCKET, SO_RCVBUF, 65536))
		fail("udp socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("udp bind");
	return fd;
}

static int tcp4_connect(int port, const char *data, int len)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("tcp connect");
	if (len > 0 && write(fd, data, len) != len)
		fail("tcp write");
	return fd;
}

static int tcp4_listener(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) || set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1))
		fail("tcp socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, BACKLOG) != 0)
		fail("tcp listen");
	return fd;
}

/* Connects an IPv6 loopback pair and returns the client; *server gets the accepted end. */
static int tcp6_pair(int *server)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int listener = socket(AF_INET6, SOCK_STREAM, 0);
	int client = socket(AF_INET6, SOCK_STREAM, 0);
	socklen_t len = sizeof(addr);

	if (listener < 0 || client < 0 || set_int(listener, IPPROTO_IPV6, IPV6_V6ONLY, 1))
		fail("tcp6 socket");
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(listener, 1) != 0)
		fail("tcp6 listen");
	getsockname(listener, (struct sockaddr *)&addr, &len);
	if (set_int(client, IPPROTO_TCP, TCP_NODELAY, 1) || connect(client, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("tcp6 connect");
	*server = accept(listener, NULL, NULL);
	if (*server < 0)
		fail("tcp6 accept");
	close(listener);
	if (write(client, "hello", V6_BYTES) != V6_BYTES)
		fail("tcp6 write");
	wait_readable(*server, V6_BYTES);
	return client;
}

static int netlink_socket(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fail("netlink");
	return fd;
}

static int abstract_socket(char *name, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	int len;

	len = snprintf(name, size, "bpfcp-abstract-%d", getpid());
	memcpy(addr.sun_path + 1, name, len);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, offsetof(struct sockaddr_un, sun_path) + 1 + len) != 0)
		fail("abstract bind");
	return fd;
}

int main(void)
{
	char pair_data[PAIR_BYTES], abstract[64];
	int pair[2], partial[2], dgram[2], rights, packet, udp, listener, pending1, pending2, v6_client, v6_server, nl, abs_fd;

	memset(pair_data, 'p', sizeof(pair_data));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || write(pair[0], pair_data, PAIR_BYTES) != PAIR_BYTES)
		fail("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, partial) != 0 || write(partial[0], pair_data, PARTIAL_SENT) != PARTIAL_SENT ||
	    read(partial[1], pair_data, PARTIAL_READ) != PARTIAL_READ)
		fail("partly read socketpair");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram) != 0 || write(dgram[0], pair_data, DGRAM_FIRST) != DGRAM_FIRST ||
	    write(dgram[0], pair_data, DGRAM_SECOND) != DGRAM_SECOND)
		fail("datagram socketpair");
	/* Protocol 0 and no bind: the packet socket receives no traffic at all. */
	packet = socket(AF_PACKET, SOCK_DGRAM, 0);
	if (packet < 0)
		fail("packet socket");
	rights = rights_pair();
	abs_fd = abstract_socket(abstract, sizeof(abstract));
	udp = udp_socket();
	listener = tcp4_listener();
	pending1 = tcp4_connect(local_port(listener), "eleven byte", PENDING_BYTES);
	pending2 = tcp4_connect(local_port(listener), NULL, 0);
	v6_client = tcp6_pair(&v6_server);
	nl = netlink_socket();
	usleep(100 * 1000);	/* lets loopback delivery to the accept queue settle */

	printf("READY pair0=%d pair1=%d pair_bytes=%d abstract_fd=%d abstract=%s udp=%d udp_port=%d "
	       "listener=%d listen_port=%d backlog=%d pending1=%d pending2=%d pending_bytes=%d "
	       "v6_client=%d v6_server=%d v6_bytes=%d v6_port=%d netlink=%d "
	       "partial=%d partial_left=%d dgram=%d dgram_first=%d dgram_total=%d rights=%d rights_fds=%d packet=%d\n",
	       pair[0], pair[1], PAIR_BYTES, abs_fd, abstract, udp, local_port(udp), listener, local_port(listener),
	       BACKLOG, pending1, pending2, PENDING_BYTES, v6_client, v6_server, V6_BYTES, local_port(v6_server), nl,
	       partial[1], PARTIAL_SENT - PARTIAL_READ, dgram[1], DGRAM_FIRST, DGRAM_FIRST + DGRAM_SECOND,
	       rights, RIGHTS_FDS, packet);
	fflush(stdout);
	for (;;)
		pause();
}

/* Non-destructive reads of pipe and unix socket queues (bpfcp_queues.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bpfcp_queues.h"

static long read_all(int fd, char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? (long)done : -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

long bpfcp_pipe_peek(int fd, void *buf, size_t len)
{
	int copy[2];
	long result;

	if (pipe2(copy, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;

	/* tee() stops when the private pipe is full, so it gets the capacity of
	 * the source: then every buffer of the source fits in one call. */
	int capacity = fcntl(fd, F_GETPIPE_SZ);
	if (capacity < 0 || fcntl(copy[0], F_SETPIPE_SZ, capacity) < 0) {
		result = -errno;
		goto out;
	}
	ssize_t teed = tee(fd, copy[1], len, SPLICE_F_NONBLOCK);
	if (teed < 0) {
		result = errno == EAGAIN ? 0 : -errno;
		goto out;
	}
	result = read_all(copy[0], buf, (size_t)teed);
	if (result >= 0 && result != teed)
		result = -EIO;
out:
	close(copy[0]);
	close(copy[1]);
	return result;
}

static int get_peek_offset(int fd, int *value)
{
	socklen_t size = sizeof(*value);

	return getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, value, &size) == 0 ? 0 : -errno;
}

static int set_peek_offset(int fd, int value)
{
	return setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &value, sizeof(value)) == 0 ? 0 : -errno;
}

/* One MSG_PEEK at the current peek offset. For a datagram socket,
 * MSG_TRUNC returns its full length even when buf is too small. */
static long peek_once(int fd, char *buf, size_t len, int datagram)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT | (datagram ? MSG_TRUNC : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		return (long)n;
	}
}

static long peek_datagrams(int fd, char *buf, size_t len, uint32_t *lengths, size_t max_messages)
{
	size_t used = 0, count = 0;

	/* With SO_PEEK_OFF at the sum of the datagrams read so far, each peek
	 * returns the next datagram whole. */
	for (;;) {
		long n = peek_once(fd, buf + used, len - used, 1);
		if (n == -EAGAIN)
			return (long)count;
		if (n < 0)
			return n;
		if ((size_t)n > len - used || count == max_messages)
			return -EMSGSIZE;
		lengths[count++] = (uint32_t)n;
		used += (size_t)n;
		if (n == 0) {
			/* A zero-length datagram does not move the peek offset, so
			 * the next peek would return it again. */
			return -ENOTSUP;
		}
	}
}

long bpfcp_socket_peek(int fd, int datagram, void *buf, size_t len, uint32_t *lengths, size_t max_messages,
		       int *peek_offset)
{
	long result;
	int err;

	if ((err = get_peek_offset(fd, peek_offset)) != 0)
		return err;
	if ((err = set_peek_offset(fd, datagram ? 0 : -1)) != 0)
		return err;

	if (datagram) {
		result = peek_datagrams(fd, buf, len, lengths, max_messages);
	} else {
		long n = peek_once(fd, buf, len, 0);
		result = n == -EAGAIN ? 0 : n;
		if (n > 0 && (size_t)n >= len)
			result = -EMSGSIZE;
		else if (n > 0 && max_messages > 0) {
			lengths[0] = (uint32_t)n;
			result = 1;
		}
	}

	err = set_peek_offset(fd, *peek_offset);
	return err != 0 && result >= 0 ? err : result;
}

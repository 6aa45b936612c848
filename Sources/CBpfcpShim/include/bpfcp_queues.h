/* Reading the bytes queued in a pipe or a unix socket of a held process
 * without consuming them, so that a checkpoint can save them and the
 * process still finds them when it runs again (queues.c). */
#ifndef BPFCP_QUEUES_H
#define BPFCP_QUEUES_H

#include <stddef.h>
#include <stdint.h>

/* Copies up to len bytes queued in the pipe that fd reads from into buf,
 * leaving them queued: tee(2) duplicates the pipe's buffers into a private
 * pipe of the same capacity, and that pipe is read. Returns the byte count
 * or a negative errno. fd must be open for reading. */
long bpfcp_pipe_peek(int fd, void *buf, size_t len);

/* Copies the receive queue of the unix socket fd into buf with MSG_PEEK,
 * leaving it queued. A stream socket gives one message with every queued
 * byte; a datagram or seqpacket socket (datagram != 0) gives one message
 * per datagram, their lengths stored in lengths[0..max_messages). The
 * socket's SO_PEEK_OFF is changed for the reading and set back to its old
 * value, which is stored in *peek_offset (-1 when disabled). Returns the
 * message count, or a negative errno; -EMSGSIZE when buf or lengths is too
 * small for the whole queue. */
long bpfcp_socket_peek(int fd, int datagram, void *buf, size_t len, uint32_t *lengths, size_t max_messages,
		       int *peek_offset);

#endif

/* sock_diag(7) dumps of unix, TCP and UDP sockets over NETLINK_SOCK_DIAG. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include "bpfcp_sockdiag.h"

#define REPLY_BUFFER 65536

/* struct tcp_info of Linux 6.x carries tcpi_rcv_wnd right after
 * tcpi_snd_wnd; older uapi headers end before it. */
#define TCPI_RCV_WND_OFFSET (offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(uint32_t))

static int send_request(int fd, void *req, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct iovec iov = { .iov_base = req, .iov_len = len };
	struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = &iov, .msg_iovlen = 1 };

	return sendmsg(fd, &msg, 0) < 0 ? -errno : 0;
}

static void read_tcp_info(struct bpfcp_diag_socket *s, const void *data, size_t len)
{
	struct tcp_info info;
	uint32_t rcv_wnd = 0;

	memset(&info, 0, sizeof(info));
	memcpy(&info, data, len < sizeof(info) ? len : sizeof(info));
	if (len >= TCPI_RCV_WND_OFFSET + sizeof(rcv_wnd))
		memcpy(&rcv_wnd, (const char *)data + TCPI_RCV_WND_OFFSET, sizeof(rcv_wnd));

	s->has_tcp_info = 1;
	s->snd_mss = info.tcpi_snd_mss;
	s->snd_wnd = info.tcpi_snd_wnd;
	s->rcv_wnd = rcv_wnd;
	s->tcp_options = info.tcpi_options;
	s->rtt_us = info.tcpi_rtt;
	s->snd_wscale = info.tcpi_snd_wscale;
	s->rcv_wscale = info.tcpi_rcv_wscale;
}

static void parse_inet(struct bpfcp_diag_socket *s, struct nlmsghdr *h, int protocol)
{
	struct inet_diag_msg *m = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct rtattr *attr = (struct rtattr *)(m + 1);

	s->ino = m->idiag_inode;
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	s->protocol = (uint8_t)protocol;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->local_port = ntohs(m->id.idiag_sport);
	s->peer_port = ntohs(m->id.idiag_dport);
	memcpy(s->local_addr, m->id.idiag_src, 16);
	memcpy(s->peer_addr, m->id.idiag_dst, 16);

	for (; RTA_OK(attr, len); attr = RTA_NEXT(attr, len)) {
		if (attr->rta_type == INET_DIAG_INFO)
			read_tcp_info(s, RTA_DATA(attr), RTA_PAYLOAD(attr));
		else if (attr->rta_type == INET_DIAG_SHUTDOWN)
			s->shutdown = *(uint8_t *)RTA_DATA(attr);
	}
}

static void parse_unix(struct bpfcp_diag_socket *s, struct nlmsghdr *h)
{
	struct unix_diag_msg *m = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct rtattr *attr = (struct rtattr *)(m + 1);

	s->ino = m->udiag_ino;
	s->family = m->udiag_family;
	s->state = m->udiag_state;

	for (; RTA_OK(attr, len); attr = RTA_NEXT(attr, len)) {
		void *data = RTA_DATA(attr);
		size_t size = RTA_PAYLOAD(attr);

		switch (attr->rta_type) {
		case UNIX_DIAG_NAME:
			s->name_len = size < BPFCP_DIAG_NAME_MAX ? size : BPFCP_DIAG_NAME_MAX;
			memcpy(s->name, data, s->name_len);
			break;
		case UNIX_DIAG_PEER:
			s->peer_ino = *(uint32_t *)data;
			break;
		case UNIX_DIAG_ICONS:
			s->icons_count = size / sizeof(uint32_t);
			for (uint32_t i = 0; i < s->icons_count && i < BPFCP_DIAG_MAX_ICONS; i++)
				s->icons[i] = ((uint32_t *)data)[i];
			break;
		case UNIX_DIAG_RQLEN:
			s->rqueue = ((struct unix_diag_rqlen *)data)->udiag_rqueue;
			s->wqueue = ((struct unix_diag_rqlen *)data)->udiag_wqueue;
			break;
		case UNIX_DIAG_SHUTDOWN:
			s->shutdown = *(uint8_t *)data;
			break;
		}
	}
}

/* Reads the multipart reply until NLMSG_DONE, storing up to max sockets
 * and counting all of them in *count. Returns 0 or a negative errno. */
static long read_messages(int fd, char *buf, int family, int protocol, struct bpfcp_diag_socket *out,
			  long max, long *count)
{
	for (;;) {
		ssize_t n = recv(fd, buf, REPLY_BUFFER, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *err = NLMSG_DATA(h);
				return err->error ? err->error : -EPROTO;
			}
			if (*count < max) {
				memset(&out[*count], 0, sizeof(out[*count]));
				if (family == AF_UNIX)
					parse_unix(&out[*count], h);
				else
					parse_inet(&out[*count], h, protocol);
			}
			(*count)++;
		}
	}
}

static long read_reply(int fd, int family, int protocol, struct bpfcp_diag_socket *out, long max)
{
	long count = 0;
	long rc;
	char *buf = malloc(REPLY_BUFFER);

	if (!buf)
		return -ENOMEM;
	rc = read_messages(fd, buf, family, protocol, out, max, &count);
	free(buf);
	return rc < 0 ? rc : count;
}

/* Opens a NETLINK_SOCK_DIAG socket in the namespace at netns_path. Such a
 * socket reports on the namespace it was created in, so the calling thread
 * enters that namespace just for socket() and returns to its own at once. */
static int diag_socket(const char *netns_path)
{
	int own, target, fd, rc = 0;

	if (!netns_path) {
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		return fd < 0 ? -errno : fd;
	}
	own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0)
		return -errno;
	target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		rc = -errno;
		close(own);
		return rc;
	}

	if (setns(target, CLONE_NEWNET) != 0) {
		rc = -errno;
	} else {
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		rc = fd < 0 ? -errno : fd;
		/* Failing to return would leave this thread in the target's namespace. */
		if (setns(own, CLONE_NEWNET) != 0)
			abort();
	}
	close(target);
	close(own);
	return rc;
}

long bpfcp_sock_diag(const char *netns_path, int family, int protocol, struct bpfcp_diag_socket *out, long max)
{
	struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } inet_req;
	struct { struct nlmsghdr h; struct unix_diag_req r; } unix_req;
	long rc;
	int fd = diag_socket(netns_path);

	if (fd < 0)
		return fd;

	if (family == AF_UNIX) {
		memset(&unix_req, 0, sizeof(unix_req));
		unix_req.h.nlmsg_len = sizeof(unix_req);
		unix_req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		unix_req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		unix_req.r.sdiag_family = AF_UNIX;
		unix_req.r.udiag_states = ~0u;
		unix_req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
		rc = send_request(fd, &unix_req, sizeof(unix_req));
	} else {
		memset(&inet_req, 0, sizeof(inet_req));
		inet_req.h.nlmsg_len = sizeof(inet_req);
		inet_req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		inet_req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		inet_req.r.sdiag_family = (uint8_t)family;
		inet_req.r.sdiag_protocol = (uint8_t)protocol;
		inet_req.r.idiag_states = ~0u;
		inet_req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
		rc = send_request(fd, &inet_req, sizeof(inet_req));
	}

	if (rc == 0)
		rc = read_reply(fd, family, protocol, out, max);
	close(fd);
	return rc;
}

int bpfcp_pidfd_getfd(int pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int copy;

	if (pidfd < 0)
		return -errno;
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (copy < 0)
		copy = -errno;
	close(pidfd);
	return copy;
}

int bpfcp_netlink_peer(int fd, uint32_t *portid, uint32_t *groups)
{
	struct sockaddr_nl addr;
	socklen_t len = sizeof(addr);

	memset(&addr, 0, sizeof(addr));
	if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0)
		return -errno;
	*portid = addr.nl_pid;
	*groups = addr.nl_groups;
	return 0;
}

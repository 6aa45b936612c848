/* sock_diag(7) queries, used by the /proc collector of sockets and as the
 * oracle its tests compare the BPF collector with. */
#ifndef BPFCP_SOCKDIAG_H
#define BPFCP_SOCKDIAG_H

#include <stdint.h>

#define BPFCP_DIAG_MAX_ICONS 16
#define BPFCP_DIAG_NAME_MAX 108

/* One socket as sock_diag reports it. Fields a family does not report stay 0. */
struct bpfcp_diag_socket {
	uint64_t ino;
	uint8_t family;
	uint8_t state;
	uint8_t protocol;
	uint8_t shutdown;
	uint32_t rqueue;	/* idiag_rqueue, or UNIX_DIAG_RQLEN udiag_rqueue */
	uint32_t wqueue;
	uint16_t local_port;	/* host order */
	uint16_t peer_port;
	uint8_t local_addr[16];
	uint8_t peer_addr[16];

	/* inet: from INET_DIAG_INFO (struct tcp_info), TCP only */
	uint32_t has_tcp_info;
	uint32_t snd_mss;
	uint32_t snd_wnd;
	uint32_t rcv_wnd;	/* 0 when the kernel's tcp_info is too short to carry it */
	uint32_t tcp_options;	/* TCPI_OPT_* */
	uint32_t rtt_us;	/* tcpi_rtt: smoothed round-trip time */
	uint8_t snd_wscale;
	uint8_t rcv_wscale;

	/* unix */
	uint64_t peer_ino;
	uint32_t name_len;
	uint8_t name[BPFCP_DIAG_NAME_MAX];
	uint32_t icons_count;	/* pending connections, all of them */
	uint64_t icons[BPFCP_DIAG_MAX_ICONS];	/* the first ones' client inodes */
};

/* Dumps every socket of family (AF_UNIX, AF_INET, AF_INET6) and, for inet,
 * protocol (IPPROTO_TCP, IPPROTO_UDP) in the network namespace that
 * netns_path names ("/proc/PID/ns/net"), or the caller's when it is NULL.
 * Stores at most max entries in out and returns how many sockets there
 * were in total, or a negative errno. */
long bpfcp_sock_diag(const char *netns_path, int family, int protocol, struct bpfcp_diag_socket *out, long max);

/* Duplicates fd of process pid into this process with pidfd_getfd(2), so
 * that getsockopt() can read the socket's options without touching the
 * target. Returns the new fd (close-on-exec) or a negative errno. */
int bpfcp_pidfd_getfd(int pid, int fd);

/* getpeername() of a netlink socket: the port id and multicast groups it
 * sends to. Returns 0 or a negative errno. */
int bpfcp_netlink_peer(int fd, uint32_t *portid, uint32_t *groups);

#endif

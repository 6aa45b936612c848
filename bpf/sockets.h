/* Records of sockets.bpf.c: one per socket fd of the process dumped, and a
 * short owner record per socket fd, of any process, that is the other end
 * of a connection user space looks up. */
#ifndef BPFCP_SOCKETS_H
#define BPFCP_SOCKETS_H

#define BPFCP_UNIX_PATH_MAX 108		/* sizeof(sockaddr_un.sun_path) */
#define BPFCP_MAX_PENDING 16		/* pending connections listed per listener */
#define BPFCP_TASK_COMM_LEN 16

/* Socket options, as bits of bpfcp_socket.options. The BPF side builds
 * this mask from CO-RE enum values, so kernel renumbering does not leak out. */
#define BPFCP_SO_REUSEADDR	(1u << 0)
#define BPFCP_SO_REUSEPORT	(1u << 1)
#define BPFCP_SO_KEEPALIVE	(1u << 2)
#define BPFCP_SO_BROADCAST	(1u << 3)
#define BPFCP_SO_LINGER		(1u << 4)
#define BPFCP_SO_OOBINLINE	(1u << 5)
#define BPFCP_SO_TIMESTAMP	(1u << 6)
#define BPFCP_SO_PASSCRED	(1u << 7)
#define BPFCP_IPV6_V6ONLY	(1u << 8)
#define BPFCP_TCP_NODELAY	(1u << 9)
#define BPFCP_TCP_CORK		(1u << 10)
#define BPFCP_SO_ZEROCOPY	(1u << 11)

/* TCP options negotiated on the connection (tcp_options_received). */
#define BPFCP_TCPOPT_TIMESTAMPS	(1u << 0)
#define BPFCP_TCPOPT_SACK	(1u << 1)
#define BPFCP_TCPOPT_WSCALE	(1u << 2)

/* Set in bpfcp_socket.queue_flags when a bounded walk stopped early: the
 * byte counts are then lower bounds, or pending connections are missing. */
#define BPFCP_QUEUE_TRUNCATED	(1u << 0)
#define BPFCP_PENDING_TRUNCATED	(1u << 1)

/* One connection waiting in a listener's accept queue. */
struct bpfcp_pending_conn {
	__u64 peer_ino;		/* inode of the connecting socket, 0 once it was closed */
	__u32 queued_bytes;	/* unread bytes in the pending connection's receive queue */
	__u32 queued_skbs;
};

struct bpfcp_socket {
	struct bpfcp_rec_hdr hdr;
	__s32 fd;
	__u32 pid;		/* tgid of the process holding the fd */
	__u64 ino;		/* socket inode, as in "socket:[ino]" */
	__u64 netns;		/* inode of the socket's network namespace */
	__u64 task_netns;	/* inode of the process's network namespace */
	__u16 family;		/* AF_* */
	__u16 type;		/* SOCK_* */
	__u16 protocol;		/* IPPROTO_*, NETLINK_*, or the ethertype (network order) for packet */
	__u8 state;		/* sk_state: TCP_* numbers, also used by unix sockets */
	__u8 shutdown;		/* SHUTDOWN_MASK bits: 1 receive, 2 send */

	__u8 local_addr[16];	/* IPv4 in the first 4 bytes */
	__u8 peer_addr[16];
	__u16 local_port;	/* host order */
	__u16 peer_port;	/* host order */
	__u32 recv_q;		/* bytes, computed as ss(8) does for each family */
	__u32 send_q;
	__s32 rcvbuf;		/* SO_RCVBUF as the kernel stores it (doubled) */
	__s32 sndbuf;
	__u32 options;		/* BPFCP_SO_* bits */
	__u32 priority;		/* SO_PRIORITY */
	__u32 mark;		/* SO_MARK */
	__s32 rcvlowat;		/* SO_RCVLOWAT */
	__u32 max_ack_backlog;	/* listen() backlog */
	__u32 ack_backlog;	/* connections waiting to be accepted */

	/* TCP */
	__u32 snd_nxt;
	__u32 snd_una;
	__u32 rcv_nxt;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 mss;		/* mss_cache */
	__u32 srtt_us;		/* smoothed round-trip time, microseconds */
	__u32 tcp_options;	/* BPFCP_TCPOPT_* bits */
	__u8 snd_wscale;
	__u8 rcv_wscale;
	__u16 queue_flags;	/* BPFCP_*_TRUNCATED bits */

	/* Netlink */
	__u32 nl_portid;
	__u32 nl_dst_portid;
	__u32 nl_dst_group;
	__u32 nl_groups;	/* first 32 multicast groups joined */

	/* Unix */
	__u64 peer_ino;		/* inode of the connected peer, 0 when none or not held by a file */
	__u64 peer_netns;	/* network namespace inode of the peer socket */
	__u32 peer_present;	/* 1 when the socket has a peer sock, even one without an inode */
	__u32 pending_count;	/* pending connections stored below, at most BPFCP_MAX_PENDING */
	__u32 local_path_len;	/* bytes of sun_path used, 0 when unbound */
	__u32 peer_path_len;
	__u8 local_path[BPFCP_UNIX_PATH_MAX];	/* abstract names start with a NUL byte */
	__u8 peer_path[BPFCP_UNIX_PATH_MAX];
	struct bpfcp_pending_conn pending[BPFCP_MAX_PENDING];
	__u32 recv_skbs;	/* unix: messages in the receive queue */
	__u32 recv_fds;		/* unix: fds passed with SCM_RIGHTS waiting in those messages,
				 * or for a listener in its pending connections */
};

/* A socket fd of any process: enough to join the two ends of a connection. */
struct bpfcp_socket_owner {
	struct bpfcp_rec_hdr hdr;
	__u32 pid;		/* tgid */
	__s32 fd;
	__u64 ino;
	__u64 netns;
	__u64 peer_ino;		/* unix only */
	__u16 family;
	__u16 protocol;
	__u8 state;
	__u8 pad[3];
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u16 local_port;
	__u16 peer_port;
	char comm[BPFCP_TASK_COMM_LEN];
	__u32 pad1;
};

/* Capacity of each requested-peer map. User space looks up more peers in
 * several passes of socket_owners. */
#define BPFCP_REQUESTED_PEERS_MAX 16384

/* An inet socket looked up in requested_inet_peers: the address pair of the
 * socket at the other end of a connection, with that socket's own address first.
 * Unused address bytes and the padding are zero. */
struct bpfcp_inet_peer_key {
	__u64 netns;
	__u8 local_addr[16];	/* IPv4 in the first 4 bytes */
	__u8 peer_addr[16];
	__u16 local_port;	/* host order */
	__u16 peer_port;
	__u16 family;
	__u16 protocol;
};

/* Both the BPF compiler and the Swift importer check these layouts, so a
 * field added without its padding fails the build instead of a read. */
_Static_assert(sizeof(struct bpfcp_socket) == 688, "bpfcp_socket layout changed");
_Static_assert(__builtin_offsetof(struct bpfcp_socket, snd_nxt) == 124, "bpfcp_socket layout changed");
_Static_assert(__builtin_offsetof(struct bpfcp_socket, pending) == 424, "bpfcp_socket layout changed");
_Static_assert(sizeof(struct bpfcp_socket_owner) == 104, "bpfcp_socket_owner layout changed");
_Static_assert(sizeof(struct bpfcp_inet_peer_key) == 48, "bpfcp_inet_peer_key layout changed");

#endif

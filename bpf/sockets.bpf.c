// SPDX-License-Identifier: GPL-2.0
/* Sockets: iter/task_file with bpf_sock_from_file() finds the socket behind
 * each fd, and CO-RE casts to tcp_sock, udp_sock, unix_sock and
 * netlink_sock read the protocol state. dump_sockets describes the sockets
 * of one process. socket_owners walks the socket fds of every process and
 * lists only those user space put in the requested_*_peers maps, so that
 * finding the process with the other end of a connection costs one pass over the
 * file tables and emits one record per peer. */
#include "vmlinux.h"
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_SEQPACKET 5
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_NAGLE_OFF 1
#define TCP_NAGLE_CORK 2
#define SK_CAN_REUSE 1

/* Bounds on the queue walks, which the verifier needs. A longer queue
 * sets BPFCP_QUEUE_TRUNCATED and the byte count is a lower bound. */
#define MAX_QUEUE_SKBS 256
#define MAX_PENDING_SKBS 64

static __always_inline struct sock *file_sock(struct file *file)
{
	struct socket *sock = bpf_sock_from_file(file);

	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline __u64 sock_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Inode of the file a sock belongs to, 0 once the sock is orphaned (closed). */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *alloc;

	if (!sock)
		return 0;
	alloc = container_of(sock, struct socket_alloc, socket);
	return BPF_CORE_READ(alloc, vfs_inode.i_ino);
}

static __always_inline void read_inet_addrs(struct sock *sk, __u16 family, __u8 *local, __u8 *peer,
					    __u16 *local_port, __u16 *peer_port)
{
	if (family == AF_INET) {
		__u32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(local, &saddr, 4);
		__builtin_memcpy(peer, &daddr, 4);
	} else {
		bpf_core_read(local, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(peer, 16, &sk->__sk_common.skc_v6_daddr);
	}
	*local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	*peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* Copies a unix socket's bound name; *len is 0 when the socket is unbound. */
static __always_inline void read_unix_name(struct sock *sk, __u8 *out, __u32 *len)
{
	struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)sk, addr);
	int n;
	__u32 size;

	*len = 0;
	if (!addr)
		return;
	n = BPF_CORE_READ(addr, len) - (int)sizeof(__u16);
	if (n <= 0)
		return;
	size = n > BPFCP_UNIX_PATH_MAX ? BPFCP_UNIX_PATH_MAX : n;

	/* Keeps clang from folding the mask into the signed value. */
	barrier_var(size);
	size &= 0x7f;
	if (size > BPFCP_UNIX_PATH_MAX)
		return;
	bpf_probe_read_kernel(out, size, addr->name[0].sun_path);
	*len = size;
}

/* Sums the unread bytes of a unix socket's receive queue, as unix_inq_len()
 * does for stream sockets: skb->len less what a reader already consumed.
 * Also counts the fds passed with SCM_RIGHTS that wait in the queue. */
static __always_inline __u32 unix_queued_bytes(struct sock *sk, __u32 max_skbs, __u32 *skbs, __u32 *fds,
					       __u16 *flags)
{
	struct sk_buff *head = (struct sk_buff *)&sk->sk_receive_queue;
	struct sk_buff *skb = BPF_CORE_READ(sk, sk_receive_queue.next);
	__u32 bytes = 0;
	__u32 i;

	for (i = 0; i < max_skbs; i++) {
		struct unix_skb_parms *cb;
		struct scm_fp_list *fp;

		if (!skb || skb == head)
			break;
		cb = (struct unix_skb_parms *)&skb->cb;
		bytes += BPF_CORE_READ(skb, len) - BPF_CORE_READ(cb, consumed);
		fp = BPF_CORE_READ(cb, fp);
		if (fp && fds)
			*fds += BPF_CORE_READ(fp, count);
		skb = BPF_CORE_READ(skb, next);
	}
	if (i == max_skbs && skb && skb != head)
		*flags |= BPFCP_QUEUE_TRUNCATED;
	*skbs = i;
	return bytes;
}

/* A listening unix socket queues one skb per connection it has not
 * accepted yet; skb->sk is the server-side sock of that connection. */
static __always_inline void unix_pending(struct bpfcp_socket *rec, struct sock *sk)
{
	struct sk_buff *head = (struct sk_buff *)&sk->sk_receive_queue;
	struct sk_buff *skb = BPF_CORE_READ(sk, sk_receive_queue.next);
	__u32 i;

	for (i = 0; i < BPFCP_MAX_PENDING; i++) {
		struct bpfcp_pending_conn *conn = &rec->pending[i];
		struct sock *embryo;

		if (!skb || skb == head)
			break;
		embryo = BPF_CORE_READ(skb, sk);
		if (embryo) {
			struct sock *client = BPF_CORE_READ((struct unix_sock *)embryo, peer);

			conn->queued_bytes = unix_queued_bytes(embryo, MAX_PENDING_SKBS, &conn->queued_skbs,
							       &rec->recv_fds, &rec->queue_flags);
			conn->peer_ino = client ? sock_ino(client) : 0;
		}
		skb = BPF_CORE_READ(skb, next);
	}
	rec->pending_count = i;
	if (i == BPFCP_MAX_PENDING && skb && skb != head)
		rec->queue_flags |= BPFCP_PENDING_TRUNCATED;
}

static __always_inline void fill_unix(struct bpfcp_socket *rec, struct sock *sk)
{
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);

	read_unix_name(sk, rec->local_path, &rec->local_path_len);
	if (peer) {
		rec->peer_present = 1;
		rec->peer_ino = sock_ino(peer);
		rec->peer_netns = sock_netns(peer);
		read_unix_name(peer, rec->peer_path, &rec->peer_path_len);
	}

	/* Queue sizes as sock_diag reports them for ss(8): a listener shows its
	 * pending connections and backlog, other sockets unread bytes and the
	 * memory their sent but unread skbs take. Unlike sock_diag, the unread
	 * bytes of a datagram socket count every queued datagram, not the first. */
	if (rec->state == TCP_LISTEN) {
		/* Unix listeners count waiting connections by queue length, not sk_ack_backlog. */
		rec->ack_backlog = BPF_CORE_READ(sk, sk_receive_queue.qlen);
		rec->recv_q = rec->ack_backlog;
		rec->send_q = rec->max_ack_backlog;
		unix_pending(rec, sk);
		return;
	}
	rec->recv_q = unix_queued_bytes(sk, MAX_QUEUE_SKBS, &rec->recv_skbs, &rec->recv_fds, &rec->queue_flags);
	rec->send_q = BPF_CORE_READ(sk, sk_wmem_alloc.refs.counter) - 1;
}

/* Connections that finished the handshake but were not accepted yet, with
 * the bytes each has received. */
static __always_inline void tcp_pending(struct bpfcp_socket *rec, struct sock *sk)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)sk;
	struct request_sock *req = BPF_CORE_READ(icsk, icsk_accept_queue.rskq_accept_head);
	__u32 i;

	for (i = 0; i < BPFCP_MAX_PENDING; i++) {
		struct tcp_sock *child;

		if (!req)
			break;
		child = (struct tcp_sock *)BPF_CORE_READ(req, sk);
		if (child)
			rec->pending[i].queued_bytes = BPF_CORE_READ(child, rcv_nxt) - BPF_CORE_READ(child, copied_seq);
		req = BPF_CORE_READ(req, dl_next);
	}
	rec->pending_count = i;
	if (req)
		rec->queue_flags |= BPFCP_PENDING_TRUNCATED;
}

static __always_inline void fill_tcp(struct bpfcp_socket *rec, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct tcp_options_received *opt = &tp->rx_opt;
	__u32 nonagle = BPF_CORE_READ_BITFIELD_PROBED(tp, nonagle);
	__s32 unread;

	rec->snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	rec->snd_una = BPF_CORE_READ(tp, snd_una);
	rec->rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	rec->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	rec->rcv_wnd = BPF_CORE_READ(tp, rcv_wnd);
	rec->mss = BPF_CORE_READ(tp, mss_cache);
	rec->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;

	if (BPF_CORE_READ_BITFIELD_PROBED(opt, tstamp_ok))
		rec->tcp_options |= BPFCP_TCPOPT_TIMESTAMPS;
	if (BPF_CORE_READ_BITFIELD_PROBED(opt, sack_ok))
		rec->tcp_options |= BPFCP_TCPOPT_SACK;
	if (BPF_CORE_READ_BITFIELD_PROBED(opt, wscale_ok))
		rec->tcp_options |= BPFCP_TCPOPT_WSCALE;
	rec->snd_wscale = BPF_CORE_READ_BITFIELD_PROBED(opt, snd_wscale);
	rec->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(opt, rcv_wscale);
	if (nonagle & TCP_NAGLE_OFF)
		rec->options |= BPFCP_TCP_NODELAY;
	if (nonagle & TCP_NAGLE_CORK)
		rec->options |= BPFCP_TCP_CORK;

	/* Queue sizes as tcp_diag_get_info() reports them. */
	if (rec->state == TCP_LISTEN) {
		rec->recv_q = rec->ack_backlog;
		rec->send_q = rec->max_ack_backlog;
		tcp_pending(rec, sk);
		return;
	}
	unread = (__s32)(rec->rcv_nxt - BPF_CORE_READ(tp, copied_seq));
	rec->recv_q = unread > 0 ? unread : 0;
	rec->send_q = BPF_CORE_READ(tp, write_seq) - rec->snd_una;
}

static __always_inline void fill_netlink(struct bpfcp_socket *rec, struct sock *sk)
{
	struct netlink_sock *nlk = (struct netlink_sock *)sk;
	unsigned long *groups = BPF_CORE_READ(nlk, groups);
	unsigned long first = 0;

	rec->nl_portid = BPF_CORE_READ(nlk, portid);
	rec->nl_dst_portid = BPF_CORE_READ(nlk, dst_portid);
	rec->nl_dst_group = BPF_CORE_READ(nlk, dst_group);
	if (groups && BPF_CORE_READ(nlk, ngroups) > 0)
		bpf_probe_read_kernel(&first, sizeof(first), groups);
	rec->nl_groups = (__u32)first;
}

static __always_inline int has_flag(unsigned long flags, int bit)
{
	return (flags >> bit) & 1;
}

static __always_inline __u32 socket_options(struct sock *sk)
{
	struct sock_common *skc = &sk->__sk_common;
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	__u32 options = 0;

	if (BPF_CORE_READ_BITFIELD_PROBED(skc, skc_reuse) >= SK_CAN_REUSE)
		options |= BPFCP_SO_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(skc, skc_reuseport))
		options |= BPFCP_SO_REUSEPORT;
	if (BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only))
		options |= BPFCP_IPV6_V6ONLY;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)))
		options |= BPFCP_SO_KEEPALIVE;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_BROADCAST)))
		options |= BPFCP_SO_BROADCAST;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_LINGER)))
		options |= BPFCP_SO_LINGER;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_URGINLINE)))
		options |= BPFCP_SO_OOBINLINE;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_RCVTSTAMP)))
		options |= BPFCP_SO_TIMESTAMP;
	if (has_flag(flags, bpf_core_enum_value(enum sock_flags, SOCK_ZEROCOPY)))
		options |= BPFCP_SO_ZEROCOPY;
	return options;
}

/* The SCM bits share a byte with sk_txrehash, which only inet sockets use,
 * so they are read for unix and netlink sockets alone.
 * NOTE: kernels before 6.16 keep SO_PASSCRED in socket->flags; it is not read there. */
static __always_inline __u32 scm_options(struct sock *sk)
{
	if (bpf_core_field_exists(sk->sk_scm_credentials) && BPF_CORE_READ_BITFIELD_PROBED(sk, sk_scm_credentials))
		return BPFCP_SO_PASSCRED;
	return 0;
}

static __always_inline void fill_common(struct bpfcp_socket *rec, struct sock *sk)
{
	rec->netns = sock_netns(sk);
	rec->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec->type = BPF_CORE_READ(sk, sk_type);
	rec->protocol = BPF_CORE_READ(sk, sk_protocol);
	rec->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	rec->shutdown = BPF_CORE_READ(sk, sk_shutdown);
	rec->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
	rec->sndbuf = BPF_CORE_READ(sk, sk_sndbuf);
	rec->priority = BPF_CORE_READ(sk, sk_priority);
	rec->mark = BPF_CORE_READ(sk, sk_mark);
	rec->rcvlowat = BPF_CORE_READ(sk, sk_rcvlowat);
	rec->max_ack_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	rec->ack_backlog = BPF_CORE_READ(sk, sk_ack_backlog);
	rec->options = socket_options(sk);

	/* Other families report allocated memory, as /proc/net/{udp,netlink,packet} do. */
	rec->recv_q = BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
	rec->send_q = BPF_CORE_READ(sk, sk_wmem_alloc.refs.counter) - 1;
}

static __always_inline void fill_family(struct bpfcp_socket *rec, struct sock *sk)
{
	switch (rec->family) {
	case AF_UNIX:
		fill_unix(rec, sk);
		break;
	case AF_INET:
	case AF_INET6:
		read_inet_addrs(sk, rec->family, rec->local_addr, rec->peer_addr, &rec->local_port, &rec->peer_port);
		if (rec->protocol == IPPROTO_TCP && rec->type == SOCK_STREAM)
			fill_tcp(rec, sk);
		else if (rec->protocol == IPPROTO_UDP)
			rec->recv_q -= BPF_CORE_READ((struct udp_sock *)sk, forward_deficit);
		break;
	case AF_NETLINK:
		fill_netlink(rec, sk);
		break;
	}
	if (rec->family == AF_UNIX || rec->family == AF_NETLINK)
		rec->options |= scm_options(sk);
}

BPFCP_VISITOR int visit_socket(struct seq_file *seq, struct task_struct *task, struct file *file, int fd)
{
	struct bpfcp_socket *rec;
	struct sock *sk;

	sk = file_sock(file);
	if (!sk)
		return 0;
	rec = scratch_record();
	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));

	rec->fd = fd;
	rec->pid = BPF_CORE_READ(task, tgid);
	rec->ino = BPF_CORE_READ(file, f_inode, i_ino);
	rec->task_netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	fill_common(rec, sk);
	fill_family(rec, sk);

	set_header(&rec->hdr, BPFCP_REC_SOCKET, sizeof(*rec));
	bpf_seq_write(seq, rec, sizeof(*rec));
	return 0;
}

#ifndef BPFCP_SHARED_PASS
char LICENSE[] SEC("license") = "GPL";

/* Unix sockets user space looks up, by inode. Values are unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFCP_REQUESTED_PEERS_MAX);
	__type(key, __u64);
	__type(value, __u8);
} requested_unix_peers SEC(".maps");

/* TCP and UDP sockets user space looks up, by their own address pair. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFCP_REQUESTED_PEERS_MAX);
	__type(key, struct bpfcp_inet_peer_key);
	__type(value, __u8);
} requested_inet_peers SEC(".maps");

SEC("iter/task_file")
int dump_sockets(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!file || !task)
		return 0;
	return visit_socket(ctx->meta->seq, task, file, ctx->fd);
}

/* Returns whether user space looks up this socket, reading its inet
 * addresses into rec on the way. */
static __always_inline int is_requested_peer(struct bpfcp_socket_owner *rec, struct sock *sk)
{
	struct bpfcp_inet_peer_key key;

	if (rec->family == AF_UNIX)
		return bpf_map_lookup_elem(&requested_unix_peers, &rec->ino) != NULL;
	if (rec->family != AF_INET && rec->family != AF_INET6)
		return 0;

	read_inet_addrs(sk, rec->family, rec->local_addr, rec->peer_addr, &rec->local_port, &rec->peer_port);
	__builtin_memset(&key, 0, sizeof(key));
	key.netns = rec->netns;
	__builtin_memcpy(key.local_addr, rec->local_addr, sizeof(key.local_addr));
	__builtin_memcpy(key.peer_addr, rec->peer_addr, sizeof(key.peer_addr));
	key.local_port = rec->local_port;
	key.peer_port = rec->peer_port;
	key.family = rec->family;
	key.protocol = rec->protocol;
	return bpf_map_lookup_elem(&requested_inet_peers, &key) != NULL;
}

SEC("iter/task_file")
int socket_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct bpfcp_socket_owner rec;
	struct sock *sk;

	if (!file || !task)
		return 0;
	sk = file_sock(file);
	if (!sk)
		return 0;
	__builtin_memset(&rec, 0, sizeof(rec));

	rec.ino = BPF_CORE_READ(file, f_inode, i_ino);
	rec.netns = sock_netns(sk);
	rec.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec.protocol = BPF_CORE_READ(sk, sk_protocol);
	if (!is_requested_peer(&rec, sk))
		return 0;

	rec.pid = task->tgid;
	rec.fd = ctx->fd;
	rec.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	bpf_probe_read_kernel_str(rec.comm, sizeof(rec.comm), task->comm);
	if (rec.family == AF_UNIX) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);

		rec.peer_ino = peer ? sock_ino(peer) : 0;
	}

	set_header(&rec.hdr, BPFCP_REC_SOCKET_OWNER, sizeof(rec));
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
#endif

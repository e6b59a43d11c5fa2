/* sk-inet.c: inet sockets, IPv4 and IPv6: TCP, UDP, UDP-Lite, ICMP (ping)
 * and raw (CRIU's sk-inet.c and the option half of sockets.c).
 *
 * Every inet socket is made by the controller before the tree is forked,
 * like a pipe (files.c), so that the order CRIU needs across sockets holds
 * without any task waiting for another: sockets that share a port are all
 * bound (and the connections among them connected) while each has
 * SO_REUSEADDR and SO_REUSEPORT on, and only when the last of them exists
 * do those two go back to what the image says (CRIU does the same with a
 * per-port count of sockets still to open, inet_port.users).  The tasks
 * inherit the sockets as they inherit pipes.  Connected TCP sockets are
 * restored in repair mode (sk-tcp.c) and stay in it until the controller
 * takes them out, after the network is unlocked, as CRIU's restorer does
 * after RESTORE_SIGCHLD: inet_unlock().
 *
 * Order for one socket, as CRIU's open_inet_sk(): socket(), IPV6_V6ONLY,
 * reuse on, then bind (IPv6 with IP_FREEBIND for the moment: an address
 * may still be tentative), listen or connect (a TCP connection: sk-tcp.c
 * instead), the file flags and owner, IP options, socket options, TCP
 * options, shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"
#include "sk-inet.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IP_NODEFRAG
#define IP_NODEFRAG 22
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif
#ifndef ICMPV6_FILTER
#define ICMPV6_FILTER 1
#endif
#ifndef SOL_ICMPV6
#define SOL_ICMPV6 58
#endif

int inet_setopt(int sk, int level, int name, const void *val, socklen_t len, const InetSkEntry *ie,
		const char *what)
{
	if (setsockopt(sk, level, name, val, len))
		return error("files.img: inet socket id %u: %s: %s", ie->id, what, strerror(errno));
	return 0;
}

static int set_int(int sk, int level, int name, int val, const InetSkEntry *ie, const char *what)
{
	return inet_setopt(sk, level, name, &val, sizeof(val), ie, what);
}

int inet_tcp_connection(const InetSkEntry *ie)
{
	return ie->proto == IPPROTO_TCP && ie->dst_port;
}

/* A sockaddr from the image's port and address words (network order). */
socklen_t inet_sockaddr(struct sockaddr_storage *ss, uint32_t family, uint32_t port, const uint32_t *addr,
			uint32_t ifindex)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		/* bind() takes the interface of a link-local address here. */
		sin6->sin6_scope_id = ifindex;
		return sizeof(*sin6);
	}
}

/* The buffers as CRIU sets them: SO_*BUFFORCE (no sysctl cap), with half
 * of what getsockopt reported, since the kernel doubles what it is given. */
int inet_set_bufs(int sk, uint32_t snd, uint32_t rcv, const InetSkEntry *ie)
{
	if (set_int(sk, SOL_SOCKET, SO_SNDBUFFORCE, snd / 2, ie, "SO_SNDBUFFORCE") ||
	    set_int(sk, SOL_SOCKET, SO_RCVBUFFORCE, rcv / 2, ie, "SO_RCVBUFFORCE"))
		return -1;
	return 0;
}

/* A classic BPF program, one instruction per image word. */
static int set_filter(int sk, const SkOptsEntry *so, const InetSkEntry *ie)
{
	struct sock_filter *f;
	struct sock_fprog prog;
	size_t i;
	int ret;

	if (!so->n_so_filter)
		return 0;
	f = calloc(so->n_so_filter, sizeof(*f));
	if (!f)
		return error("out of memory");
	for (i = 0; i < so->n_so_filter; i++) {
		f[i].code = so->so_filter[i] >> 48;
		f[i].jt = so->so_filter[i] >> 40;
		f[i].jf = so->so_filter[i] >> 32;
		f[i].k = so->so_filter[i];
	}
	prog.len = so->n_so_filter;
	prog.filter = f;
	ret = inet_setopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog), ie, "SO_ATTACH_FILTER");
	free(f);
	return ret;
}

/* CRIU's restore_socket_opts(): what SkOptsEntry holds, flags only when
 * on (a new socket has them off).  SO_REUSEADDR and SO_REUSEPORT are the
 * caller's: they stay on until every socket exists. */
static int set_socket_opts(int sk, const SkOptsEntry *so, const InetSkEntry *ie)
{
	struct timeval tv;
	int ret = 0;

	ret |= inet_set_bufs(sk, so->so_sndbuf, so->so_rcvbuf, ie);
	if (so->has_so_buf_lock)
		ret |= set_int(sk, SOL_SOCKET, SO_BUF_LOCK, so->so_buf_lock, ie, "SO_BUF_LOCK");
	if (so->has_so_priority)
		ret |= set_int(sk, SOL_SOCKET, SO_PRIORITY, so->so_priority, ie, "SO_PRIORITY");
	if (so->has_so_rcvlowat)
		ret |= set_int(sk, SOL_SOCKET, SO_RCVLOWAT, so->so_rcvlowat, ie, "SO_RCVLOWAT");
	if (so->has_so_mark)
		ret |= set_int(sk, SOL_SOCKET, SO_MARK, so->so_mark, ie, "SO_MARK");
	if (so->has_so_passcred && so->so_passcred)
		ret |= set_int(sk, SOL_SOCKET, SO_PASSCRED, 1, ie, "SO_PASSCRED");
	if (so->has_so_passsec && so->so_passsec)
		ret |= set_int(sk, SOL_SOCKET, SO_PASSSEC, 1, ie, "SO_PASSSEC");
	if (so->has_so_dontroute && so->so_dontroute)
		ret |= set_int(sk, SOL_SOCKET, SO_DONTROUTE, 1, ie, "SO_DONTROUTE");
	if (so->has_so_no_check && so->so_no_check)
		ret |= set_int(sk, SOL_SOCKET, SO_NO_CHECK, 1, ie, "SO_NO_CHECK");
	if (so->has_so_broadcast && so->so_broadcast)
		ret |= set_int(sk, SOL_SOCKET, SO_BROADCAST, 1, ie, "SO_BROADCAST");
	if (so->has_so_oobinline && so->so_oobinline)
		ret |= set_int(sk, SOL_SOCKET, SO_OOBINLINE, 1, ie, "SO_OOBINLINE");
	if (so->has_so_linger) {
		struct linger l = { 1, so->so_linger };

		ret |= inet_setopt(sk, SOL_SOCKET, SO_LINGER, &l, sizeof(l), ie, "SO_LINGER");
	}
	if (so->has_so_keepalive && so->so_keepalive)
		ret |= set_int(sk, SOL_SOCKET, SO_KEEPALIVE, 1, ie, "SO_KEEPALIVE");
	/* Older images kept the TCP keepalive values here. */
	if (so->has_tcp_keepcnt)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPCNT, so->tcp_keepcnt, ie, "TCP_KEEPCNT");
	if (so->has_tcp_keepidle)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPIDLE, so->tcp_keepidle, ie, "TCP_KEEPIDLE");
	if (so->has_tcp_keepintvl)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPINTVL, so->tcp_keepintvl, ie, "TCP_KEEPINTVL");
	tv.tv_sec = so->so_snd_tmo_sec;
	tv.tv_usec = so->so_snd_tmo_usec;
	ret |= inet_setopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv), ie, "SO_SNDTIMEO");
	tv.tv_sec = so->so_rcv_tmo_sec;
	tv.tv_usec = so->so_rcv_tmo_usec;
	ret |= inet_setopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv), ie, "SO_RCVTIMEO");
	if (so->so_bound_dev)
		ret |= inet_setopt(sk, SOL_SOCKET, SO_BINDTODEVICE, so->so_bound_dev, strlen(so->so_bound_dev), ie,
				   "SO_BINDTODEVICE");
	ret |= set_filter(sk, so, ie);
	return ret ? -1 : 0;
}

/* CRIU's restore_ip_opts() with its raw part. */
static int set_ip_opts(int sk, const InetSkEntry *ie)
{
	const IpOptsEntry *io = ie->ip_opts;
	int v6 = ie->family == AF_INET6, ret = 0;

	if (!io)
		return 0;
	if (io->has_freebind)
		ret |= set_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND, io->freebind, ie,
			       "IP_FREEBIND");
	if (io->has_pktinfo)
		ret |= set_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, io->pktinfo, ie,
			       "IP_PKTINFO");
	if (!v6 && io->has_tos)
		ret |= set_int(sk, SOL_IP, IP_TOS, io->tos, ie, "IP_TOS");
	if (!v6 && io->has_ttl)
		ret |= set_int(sk, SOL_IP, IP_TTL, io->ttl, ie, "IP_TTL");
	if (io->raw) {
		const IpOptsRawEntry *r = io->raw;

		if (r->n_icmpv_filter && (ie->proto == IPPROTO_ICMP || ie->proto == IPPROTO_ICMPV6))
			ret |= inet_setopt(sk, v6 ? SOL_ICMPV6 : SOL_RAW, v6 ? ICMPV6_FILTER : ICMP_FILTER,
					   r->icmpv_filter, r->n_icmpv_filter * sizeof(uint32_t), ie, "ICMP_FILTER");
		if (r->has_nodefrag)
			ret |= set_int(sk, SOL_IP, IP_NODEFRAG, r->nodefrag, ie, "IP_NODEFRAG");
		if (r->has_hdrincl)
			ret |= set_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_HDRINCL : IP_HDRINCL, r->hdrincl, ie,
				       "IP_HDRINCL");
	}
	return ret ? -1 : 0;
}

static int set_tcp_opts(int sk, const InetSkEntry *ie)
{
	const TcpOptsEntry *t = ie->tcp_opts;
	int ret = 0;

	if (ie->proto != IPPROTO_TCP || !t)
		return 0;
	if (t->has_nodelay)
		ret |= set_int(sk, IPPROTO_TCP, TCP_NODELAY, t->nodelay, ie, "TCP_NODELAY");
	if (t->has_cork)
		ret |= set_int(sk, IPPROTO_TCP, TCP_CORK, t->cork, ie, "TCP_CORK");
	if (t->has_keepcnt)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPCNT, t->keepcnt, ie, "TCP_KEEPCNT");
	if (t->has_keepidle)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPIDLE, t->keepidle, ie, "TCP_KEEPIDLE");
	if (t->has_keepintvl)
		ret |= set_int(sk, IPPROTO_TCP, TCP_KEEPINTVL, t->keepintvl, ie, "TCP_KEEPINTVL");
	return ret ? -1 : 0;
}

/* CRIU's inet_bind(): an IPv6 address may still be tentative (DAD), which
 * only IP_FREEBIND lets a bind pass; it is taken back unless the image has
 * it on. */
int inet_bind(int sk, InetSkEntry *ie)
{
	struct sockaddr_storage ss;
	uint32_t ifindex = 0;
	int freebind = ie->family == AF_INET6 && ie->type != SOCK_RAW;
	socklen_t len;

	if (ie->ifname) {
		ifindex = if_nametoindex(ie->ifname);
		if (!ifindex)
			return error("files.img: inet socket id %u: no interface %s here for its address", ie->id,
				     ie->ifname);
	}
	len = inet_sockaddr(&ss, ie->family, ie->src_port, ie->src_addr, ifindex);
	if (freebind && set_int(sk, SOL_IP, IP_FREEBIND, 1, ie, "IP_FREEBIND"))
		return -1;
	if (bind(sk, (struct sockaddr *)&ss, len))
		return error("files.img: inet socket id %u: cannot bind to port %u: %s", ie->id, ie->src_port,
			     strerror(errno));
	if (freebind && !(ie->ip_opts && ie->ip_opts->has_freebind && ie->ip_opts->freebind) &&
	    set_int(sk, SOL_IP, IP_FREEBIND, 0, ie, "IP_FREEBIND"))
		return -1;
	return 0;
}

static int set_flags_and_opts(int sk, InetSkEntry *ie)
{
	if (fcntl(sk, F_SETFL, ie->flags & ~O_ACCMODE))
		return error("files.img: inet socket id %u: flags %#x: %s", ie->id, ie->flags, strerror(errno));
	if (set_ip_opts(sk, ie) || set_socket_opts(sk, ie->opts, ie) || set_tcp_opts(sk, ie))
		return -1;
	/* SK_SHUTDOWN__READ .. BOTH are SHUT_RD .. SHUT_RDWR plus one. */
	if (ie->has_shutdown && ie->shutdown != SK_SHUTDOWN__NONE &&
	    (ie->proto == IPPROTO_UDP || ie->proto == IPPROTO_UDPLITE || ie->proto == IPPROTO_TCP) &&
	    shutdown(sk, ie->shutdown - 1) && ie->state != TCP_CLOSE && errno != ENOTCONN)
		return error("files.img: inet socket id %u: shutdown %d: %s", ie->id, ie->shutdown - 1,
			     strerror(errno));
	return 0;
}

/* A new socket for a files.img INETSK entry, in the controller (files.c). */
int inetsk_open(struct restore_ctx *ctx, const FileEntry *fe)
{
	InetSkEntry *ie = fe->isk;
	struct sockaddr_storage ss;
	socklen_t len;
	int sk;

	sk = socket(ie->family, ie->type | SOCK_CLOEXEC, ie->proto);
	if (sk < 0)
		return error("files.img: inet socket id %u: socket(%u, %u, %u): %s", ie->id, ie->family, ie->type,
			     ie->proto, strerror(errno));
	if ((ie->v6only && set_int(sk, SOL_IPV6, IPV6_V6ONLY, 1, ie, "IPV6_V6ONLY")) ||
	    set_int(sk, SOL_SOCKET, SO_REUSEADDR, 1, ie, "SO_REUSEADDR") ||
	    set_int(sk, SOL_SOCKET, SO_REUSEPORT, 1, ie, "SO_REUSEPORT"))
		goto err;
	if (inet_tcp_connection(ie)) {
		if (tcp_restore(ctx, sk, ie))
			goto err;
	} else {
		/* A ping socket's port is its ICMP id, which bind() would not
		 * give back (CRIU does not bind them either). */
		if (ie->src_port && ie->proto != IPPROTO_ICMP && ie->proto != IPPROTO_ICMPV6 && inet_bind(sk, ie))
			goto err;
		if (ie->state == TCP_LISTEN && listen(sk, ie->backlog)) {
			error("files.img: inet socket id %u: cannot listen on port %u: %s", ie->id, ie->src_port,
			      strerror(errno));
			goto err;
		}
		if (ie->dst_port) {
			len = inet_sockaddr(&ss, ie->family, ie->dst_port, ie->dst_addr, 0);
			if (connect(sk, (struct sockaddr *)&ss, len)) {
				error("files.img: inet socket id %u: cannot connect to port %u again: %s", ie->id,
				      ie->dst_port, strerror(errno));
				goto err;
			}
		}
	}
	if (set_flags_and_opts(sk, ie))
		goto err;
	return sk;
err:
	close(sk);
	return -1;
}

/* Once every socket exists (files_prepare()): SO_REUSEADDR and SO_REUSEPORT
 * as the image says, on every socket but the TCP connections, which
 * inet_unlock() sets when it takes them out of repair mode. */
int inetsk_opened(struct restore_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nr_files; i++) {
		FileEntry *fe = imgset_file(ctx->set, ctx->files[i].id);
		InetSkEntry *ie = fe && fe->type == FD_TYPES__INETSK ? fe->isk : NULL;

		if (!ie || inet_tcp_connection(ie))
			continue;
		if (set_int(ctx->files[i].fd, SOL_SOCKET, SO_REUSEADDR, ie->opts->has_reuseaddr && ie->opts->reuseaddr,
			    ie, "SO_REUSEADDR") ||
		    set_int(ctx->files[i].fd, SOL_SOCKET, SO_REUSEPORT,
			    ie->opts->has_so_reuseport && ie->opts->so_reuseport, ie, "SO_REUSEPORT"))
			return -1;
	}
	return 0;
}

static const char *inet_state_name(uint32_t state)
{
	static const char *const names[] = {
		"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* What restore_features_check() refuses of an inet socket, before
 * anything runs: what CRIU itself would not restore, and a connection
 * whose state no image holds. */
int inetsk_features_check(const struct img_set *set, const FileEntry *fe, const char *where)
{
	const InetSkEntry *ie = fe->isk;
	size_t n = ie && ie->family == AF_INET6 ? 4 : 1;

	if (!ie)
		return error("%s: inet socket id %u has no isk part in files.img", where, fe->id);
	if (ie->family != AF_INET && ie->family != AF_INET6)
		return error("%s: inet socket id %u: family %u is not an inet family", where, ie->id, ie->family);
	if (ie->type != SOCK_STREAM && ie->type != SOCK_DGRAM && ie->type != SOCK_RAW)
		return error("%s: inet socket id %u: socket type %u: not restored (CRIU neither)", where, ie->id,
			     ie->type);
	if (ie->n_src_addr < n || ie->n_dst_addr < n)
		return error("%s: inet socket id %u: %zu/%zu address words, want %zu", where, ie->id,
			     ie->n_src_addr, ie->n_dst_addr, n);
	if (ie->state == TCP_LISTEN && ie->proto != IPPROTO_TCP)
		return error("%s: inet socket id %u: listening with protocol %u", where, ie->id, ie->proto);
	if (inet_tcp_connection(ie))
		return tcp_features_check(set, ie, where, inet_state_name(ie->state));
	return 0;
}

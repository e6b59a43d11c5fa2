/* sk-tcp.c: TCP connections through TCP_REPAIR (CRIU's sk-tcp.c and
 * libsoccr's restore half), and the end of CRIU's network lock.
 *
 * A connection comes back in repair mode: bound to its own address, its
 * two sequence numbers set, connect()ed without a packet, its options
 * (SACK, window scales, MSS, timestamps) and windows set, its queued
 * bytes put back from tcp-stream-<ino>.img (the sent-but-unacked part of
 * the send queue in repair mode, the never-sent part with repair off, as
 * ordinary writes), and the FINs of a closing state rebuilt: ours with
 * shutdown(), the peer's by injecting the FIN (and the ACK of ours) it
 * sent, as a raw packet marked so that CRIU's lock lets it through.
 *
 * While the tasks were dumped, CRIU dropped the connection's packets with
 * two iptables rules (or one nftables table) that it leaves for the
 * restore to remove: a peer's retransmissions must not reset the
 * connection before it exists again.  inet_unlock() removes them and
 * then takes every connection out of repair mode, at the point CRIU
 * does: after RESTORE_SIGCHLD, before RESTORE_CREDS. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"
#include "sk-inet.h"

/* The mark of CRIU's own packets, which its lock rules let pass (soccr.h). */
#define SOCCR_MARK 0xC114
#define SOCCR_MARK_STR "0xC114"

/* inventory.img network_lock_method (CRIU's enum NETWORK_LOCK_METHOD). */
enum { LOCK_IPTABLES = 0, LOCK_NFTABLES = 1, LOCK_SKIP = 2 };

/* Which FINs a state has seen (libsoccr's SNDQ_ and RCVQ_ sets). */
#define F(s) (1u << (s))
#define SNDQ_FIRST_FIN (F(TCP_FIN_WAIT1) | F(TCP_FIN_WAIT2) | F(TCP_CLOSING))
#define SNDQ_SECOND_FIN (F(TCP_LAST_ACK) | F(TCP_CLOSE))
#define SNDQ_FIN_ACKED (F(TCP_FIN_WAIT2) | F(TCP_CLOSE))
#define RCVQ_FIRST_FIN (F(TCP_CLOSE_WAIT) | F(TCP_LAST_ACK) | F(TCP_CLOSE))
#define RCVQ_SECOND_FIN F(TCP_CLOSING)
#define RCVQ_FIN_ACKED F(TCP_CLOSE)
#define STATES_RESTORED (F(TCP_ESTABLISHED) | F(TCP_SYN_SENT) | SNDQ_FIRST_FIN | SNDQ_SECOND_FIN | RCVQ_FIRST_FIN)

static void tcp_stream_path(const struct img_set *set, const InetSkEntry *ie, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tcp-stream-%x.img", set->dir, ie->ino);
}

int tcp_features_check(const struct img_set *set, const InetSkEntry *ie, const char *where, const char *state)
{
	char path[PATH_MAX];

	if (ie->state >= 32 || !(F(ie->state) & STATES_RESTORED))
		return error("%s: TCP socket id %u in state %s: not restored (CRIU neither)", where, ie->id, state);
	if (set->inventory->has_tcp_close && set->inventory->tcp_close)
		return 0;
	tcp_stream_path(set, ie, path, sizeof(path));
	if (access(path, R_OK))
		return error("%s: TCP connection id %u (%s): %s: %s", where, ie->id, state, path, strerror(errno));
	return 0;
}

struct tcp_state {
	const InetSkEntry *ie;
	const TcpStreamEntry *ts;
	uint32_t inq_seq, outq_seq;	/* as libsoccr adjusts them for the FINs */
	uint32_t mstate;
	const uint8_t *inq, *outq;
};

static int repair(int sk, int on, const InetSkEntry *ie)
{
	return inet_setopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on), ie, on ? "TCP_REPAIR on" : "TCP_REPAIR off");
}

static int repair_queue(int sk, int queue, const InetSkEntry *ie)
{
	return inet_setopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue), ie, "TCP_REPAIR_QUEUE");
}

static int queue_seq(int sk, int queue, uint32_t seq, const InetSkEntry *ie)
{
	if (repair_queue(sk, queue, ie))
		return -1;
	return inet_setopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq), ie, "TCP_QUEUE_SEQ");
}

/* Write a queue's bytes.  The kernel makes one linear skb per write of a
 * repaired receive queue: a large one can fail with ENOMEM, so the chunk
 * halves until it fits (as libsoccr). */
static int send_bytes(int sk, const uint8_t *buf, size_t len, const InetSkEntry *ie, const char *what)
{
	size_t chunk = len;

	while (len) {
		ssize_t n = send(sk, buf, len < chunk ? len : chunk, 0);

		if (n > 0) {
			buf += n;
			len -= n;
			continue;
		}
		if (chunk > 1024) {
			chunk /= 2;
			continue;
		}
		return error("TCP connection id %u: cannot put back its %s queue (%zu bytes left): %s", ie->id, what,
			     len, n < 0 ? strerror(errno) : "nothing written");
	}
	return 0;
}

/* Bind, sequence numbers, connect without a handshake, options. */
static int tcp_connect(int sk, struct tcp_state *st)
{
	const InetSkEntry *ie = st->ie;
	const TcpStreamEntry *ts = st->ts;
	struct tcp_repair_opt opts[4];
	struct sockaddr_storage ss;
	socklen_t len;
	int nr = 0, syn_sent = ie->state == TCP_SYN_SENT;

	len = inet_sockaddr(&ss, ie->family, ie->src_port, ie->src_addr, 0);
	if (bind(sk, (struct sockaddr *)&ss, len))
		return error("TCP connection id %u: cannot bind to port %u: %s", ie->id, ie->src_port, strerror(errno));
	if (queue_seq(sk, TCP_RECV_QUEUE, st->inq_seq - ts->inq_len, ie) ||
	    queue_seq(sk, TCP_SEND_QUEUE, st->outq_seq - ts->outq_len - syn_sent, ie))
		return -1;
	/* A SYN_SENT socket sends its SYN again: connect() out of repair. */
	if (syn_sent && repair(sk, 0, ie))
		return -1;
	len = inet_sockaddr(&ss, ie->family, ie->dst_port, ie->dst_addr, 0);
	if (connect(sk, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
		return error("TCP connection id %u: cannot connect to port %u again: %s", ie->id, ie->dst_port,
			     strerror(errno));
	if (syn_sent)
		return repair(sk, 1, ie);
	if (ts->opt_mask & TCPI_OPT_SACK)
		opts[nr++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (ts->opt_mask & TCPI_OPT_WSCALE)
		opts[nr++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, ts->snd_wscale + (ts->rcv_wscale << 16) };
	if (ts->opt_mask & TCPI_OPT_TIMESTAMPS)
		opts[nr++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	opts[nr++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, ts->mss_clamp };
	if (inet_setopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, nr * sizeof(opts[0]), ie, "TCP_REPAIR_OPTIONS"))
		return -1;
	if ((ts->opt_mask & TCPI_OPT_TIMESTAMPS) &&
	    inet_setopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &ts->timestamp, sizeof(ts->timestamp), ie, "TCP_TIMESTAMP"))
		return -1;
	return 0;
}

/* The receive queue, then the send queue: what was sent and not yet
 * acknowledged in repair mode (the peer may acknowledge it), what was
 * never sent as a plain write. */
static int tcp_queues(int sk, struct tcp_state *st)
{
	const TcpStreamEntry *ts = st->ts;
	uint32_t unsent = ts->unsq_len, sent = ts->outq_len - unsent;

	if (ts->inq_len && (repair_queue(sk, TCP_RECV_QUEUE, st->ie) ||
			    send_bytes(sk, st->inq, ts->inq_len, st->ie, "receive")))
		return -1;
	if (sent && (repair_queue(sk, TCP_SEND_QUEUE, st->ie) || send_bytes(sk, st->outq, sent, st->ie, "send")))
		return -1;
	if (unsent && (repair(sk, 0, st->ie) || send_bytes(sk, st->outq + sent, unsent, st->ie, "unsent") ||
		       repair(sk, 1, st->ie)))
		return -1;
	return 0;
}

static int tcp_window(int sk, struct tcp_state *st)
{
	const TcpStreamEntry *ts = st->ts;
	struct tcp_repair_window w;

	if (!ts->has_snd_wnd)
		return 0;
	w.snd_wl1 = ts->snd_wl1;
	w.snd_wnd = ts->snd_wnd;
	w.max_window = ts->max_window;
	w.rcv_wnd = ts->rcv_wnd;
	w.rcv_wup = ts->rcv_wup;
	/* The peer's FIN, injected below, takes one sequence number. */
	if (st->mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN)) {
		w.rcv_wup--;
		w.rcv_wnd++;
	}
	return inet_setopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w), st->ie, "TCP_REPAIR_WINDOW");
}

/* Our FIN: shutdown(SHUT_WR) puts it in the send queue, as sent already
 * when the peer acknowledged it. */
static int our_fin(int sk, struct tcp_state *st)
{
	int acked = !!(st->mstate & SNDQ_FIN_ACKED);

	if (acked && repair_queue(sk, TCP_SEND_QUEUE, st->ie))
		return -1;
	if (shutdown(sk, SHUT_WR))
		return error("TCP connection id %u: cannot put back its FIN: %s", st->ie->id, strerror(errno));
	if (acked && repair_queue(sk, TCP_NO_QUEUE, st->ie))
		return -1;
	return 0;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (; len > 1; len -= 2, b += 2)
		sum += (b[0] << 8) | b[1];
	if (len)
		sum += b[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* A segment from the peer to the socket, as the peer sent it (libsoccr's
 * send_fin()): a raw packet with its IP header, from the peer's address
 * and port to ours, marked so that the lock's rules let it through. */
static int peer_segment(struct tcp_state *st, uint32_t seq, uint32_t ack, int fin)
{
	const InetSkEntry *ie = st->ie;
	const TcpStreamEntry *ts = st->ts;
	int v4 = ie->family == AF_INET, mark = SOCCR_MARK, sk, ret;
	const uint32_t *src = ie->dst_addr, *dst = ie->src_addr;	/* from the peer to us */
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)];
	struct tcphdr *th;
	struct sockaddr_storage to;
	uint32_t sum, win = ts->snd_wnd;
	size_t hlen;

	/* A v4-mapped IPv6 connection runs over IPv4. */
	if (!v4 && src[0] == 0 && src[1] == 0 && src[2] == htonl(0xffff)) {
		v4 = 1;
		src += 3;
		dst += 3;
	}
	/* The window as the peer advertises it: in its own scale. */
	if (ts->opt_mask & TCPI_OPT_WSCALE)
		win >>= ts->snd_wscale;
	if (win > 0xffff)
		win = 0xffff;
	memset(pkt, 0, sizeof(pkt));
	hlen = v4 ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	th = (struct tcphdr *)(pkt + hlen);
	th->source = htons(ie->dst_port);
	th->dest = htons(ie->src_port);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = 5;
	th->ack = 1;
	th->fin = !!fin;
	th->window = htons(win);
	sum = csum_add(0, src, v4 ? 4 : 16);
	sum = csum_add(sum, dst, v4 ? 4 : 16);
	sum += IPPROTO_TCP + sizeof(*th);
	th->check = csum_fold(csum_add(sum, th, sizeof(*th)));
	if (v4) {
		struct iphdr *iph = (struct iphdr *)pkt;

		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = htons(hlen + sizeof(*th));
		iph->ttl = 64;
		iph->protocol = IPPROTO_TCP;
		memcpy(&iph->saddr, src, 4);
		memcpy(&iph->daddr, dst, 4);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(*th));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hops = 64;
		memcpy(&ip6->ip6_src, src, 16);
		memcpy(&ip6->ip6_dst, dst, 16);
	}
	inet_sockaddr(&to, v4 ? AF_INET : AF_INET6, 0, dst, 0);
	sk = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (sk < 0)
		return error("TCP connection id %u: a raw socket for the peer's FIN: %s", ie->id, strerror(errno));
	ret = inet_setopt(sk, SOL_SOCKET, SO_MARK, &mark, sizeof(mark), ie, "SO_MARK of the raw socket");
	if (!ret && sendto(sk, pkt, hlen + sizeof(*th), 0, (struct sockaddr *)&to,
			   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0)
		ret = error("TCP connection id %u: cannot send the peer's %s: %s", ie->id, fin ? "FIN" : "ACK",
			    strerror(errno));
	close(sk);
	return ret;
}

/* libsoccr_restore()'s order: connection, queues, windows, then the FINs. */
static int tcp_rebuild(int sk, struct tcp_state *st)
{
	const TcpStreamEntry *ts = st->ts;

	if (tcp_connect(sk, st) || tcp_queues(sk, st) || tcp_window(sk, st))
		return -1;
	if ((st->mstate & SNDQ_FIRST_FIN) && our_fin(sk, st))
		return -1;
	if ((st->mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN)) &&
	    peer_segment(st, st->inq_seq, st->outq_seq - ts->outq_len, 1))
		return -1;
	if ((st->mstate & SNDQ_SECOND_FIN) && our_fin(sk, st))
		return -1;
	if (st->mstate & RCVQ_FIN_ACKED)
		st->inq_seq++;
	if (st->mstate & SNDQ_FIN_ACKED) {
		st->outq_seq++;
		if (peer_segment(st, st->inq_seq, st->outq_seq - ts->outq_len, 0))
			return -1;
	}
	return 0;
}

static int keep_repaired(struct restore_ctx *ctx, int sk, const InetSkEntry *ie)
{
	struct tcp_repair *r = realloc(ctx->tcp_repairs, (ctx->nr_tcp_repairs + 1) * sizeof(*r));

	if (!r)
		return error("out of memory");
	ctx->tcp_repairs = r;
	r[ctx->nr_tcp_repairs].ie = ie;
	r[ctx->nr_tcp_repairs].fd = fcntl(sk, F_DUPFD_CLOEXEC, 0);
	if (r[ctx->nr_tcp_repairs].fd < 0)
		return error("TCP connection id %u: dup: %s", ie->id, strerror(errno));
	ctx->nr_tcp_repairs++;
	return 0;
}

/* A TCP connection on the new socket sk, left in repair mode (the
 * controller keeps a copy for inet_unlock()).  Dumped or restored with
 * --tcp-close, it comes back closed, as CRIU's: a new socket shut down. */
int tcp_restore(struct restore_ctx *ctx, int sk, InetSkEntry *ie)
{
	struct tcp_state st = { .ie = ie, .mstate = F(ie->state) };
	char path[PATH_MAX];
	struct image *img;
	int ret = -1;

	if (ctx->opts->tcp_close || (ctx->set->inventory->has_tcp_close && ctx->set->inventory->tcp_close)) {
		if (shutdown(sk, SHUT_RDWR) && errno != ENOTCONN)
			return error("TCP socket id %u (dumped with --tcp-close): shutdown: %s", ie->id, strerror(errno));
		return 0;
	}
	tcp_stream_path(ctx->set, ie, path, sizeof(path));
	img = image_read(path, img_desc_by_name("TCP_STREAM"), 1);
	if (!img)
		return -1;
	if (img->nr != 1 || !((TcpStreamEntry *)img->entries[0].msg)->has_unsq_len) {
		error("%s: %s", path, img->nr != 1 ? "not one entry" : "no unsq_len (an image older than CRIU 2.x)");
		goto out;
	}
	st.ts = (TcpStreamEntry *)img->entries[0].msg;
	st.inq = img->entries[0].extra;
	st.outq = st.inq + st.ts->inq_len;
	st.inq_seq = st.ts->inq_seq - !!(st.mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN));
	st.outq_seq = st.ts->outq_seq - !!(st.mstate & (SNDQ_FIRST_FIN | SNDQ_SECOND_FIN));
	if (((st.ts->opt_mask & TCPI_OPT_WSCALE) && !st.ts->has_rcv_wscale) ||
	    ((st.ts->opt_mask & TCPI_OPT_TIMESTAMPS) && !st.ts->has_timestamp)) {
		error("%s: options %#x without their values", path, st.ts->opt_mask);
		goto out;
	}
	/* Queues of any size fit, and nothing blocks, until the image's
	 * buffers and flags are set (sk-inet.c). */
	if (repair(sk, 1, ie) || inet_set_bufs(sk, INT_MAX / 2 * 2, INT_MAX / 2 * 2, ie) ||
	    fcntl(sk, F_SETFL, O_NONBLOCK) || tcp_rebuild(sk, &st))
		goto out;
	/* Older images kept these here (tcp_opts_entry now). */
	if (st.ts->has_nodelay && st.ts->nodelay &&
	    inet_setopt(sk, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int), ie, "TCP_NODELAY"))
		goto out;
	if (st.ts->has_cork && st.ts->cork &&
	    inet_setopt(sk, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int), ie, "TCP_CORK"))
		goto out;
	ret = keep_repaired(ctx, sk, ie);
out:
	image_free(img);
	return ret;
}

/* Run a netfilter tool (no shell), its output to /dev/null: its exit
 * status, -1 if it could not run. */
static int run_tool(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return error("fork for %s: %s", argv[0], strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_RDWR);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return error("waitpid for %s: %s", argv[0], strerror(errno));
	return WIFEXITED(status) && WEXITSTATUS(status) != 127 ? WEXITSTATUS(status) : -1;
}

/* One of CRIU's two iptables rules for a connection, removed if it is
 * there (iptables -C first: a set restored twice, or never locked, has
 * none).  INPUT drops what comes from the peer, OUTPUT what goes to it. */
static int iptables_unlock(const InetSkEntry *ie, int input)
{
	const uint32_t *src = ie->src_addr, *dst = ie->dst_addr;
	int family = ie->family, i;
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], sport[8], dport[8];
	char *argv[] = { family == AF_INET ? "iptables" : "ip6tables", "-w", "-t", "filter", "-C",
			 input ? "INPUT" : "OUTPUT", "--protocol", "tcp", "-m", "mark", "!", "--mark", SOCCR_MARK_STR,
			 "--source", NULL, "--sport", NULL, "--destination", NULL, "--dport", NULL, "-j", "DROP", NULL };

	if (family == AF_INET6 && dst[0] == 0 && dst[1] == 0 && dst[2] == htonl(0xffff)) {
		family = AF_INET;
		argv[0] = "iptables";
		src += 3;
		dst += 3;
	}
	inet_ntop(family, src, sip, sizeof(sip));
	inet_ntop(family, dst, dip, sizeof(dip));
	snprintf(sport, sizeof(sport), "%u", ie->src_port);
	snprintf(dport, sizeof(dport), "%u", ie->dst_port);
	argv[14] = input ? dip : sip;
	argv[16] = input ? dport : sport;
	argv[18] = input ? sip : dip;
	argv[20] = input ? sport : dport;
	if (run_tool(argv))
		return 0;
	argv[4] = "-D";
	i = run_tool(argv);
	if (i)
		return error("TCP connection id %u: %s -D %s of CRIU's lock failed (%d)", ie->id, argv[0], argv[5], i);
	debug("TCP connection id %u: removed CRIU's %s lock rule", ie->id, argv[5]);
	return 0;
}

/* CRIU's nftables lock is one table for the whole dump, named after the
 * dump's run id. */
static int nftables_unlock(const struct img_set *set)
{
	char table[96];
	char *list[] = { "nft", "list", "table", "inet", table, NULL };
	char *del[] = { "nft", "delete", "table", "inet", table, NULL };

	if (!set->inventory->dump_criu_run_id)
		return error("inventory.img: an nftables network lock without dump_criu_run_id: not restored yet");
	snprintf(table, sizeof(table), "CRIU-%s", set->inventory->dump_criu_run_id);
	if (run_tool(list))
		return 0;
	if (run_tool(del))
		return error("nft delete table inet %s (CRIU's network lock) failed", table);
	return 0;
}

/* The controller, once RESTORE_SIGCHLD has drained: CRIU's network_unlock()
 * (the rules of its lock go), then every connection leaves repair mode
 * with its own SO_REUSEADDR and SO_REUSEPORT back (CRIU's restorer does
 * this part in each task right after RESTORE_SIGCHLD). */
int inet_unlock(struct restore_ctx *ctx)
{
	uint32_t method = ctx->set->inventory->has_network_lock_method ? ctx->set->inventory->network_lock_method
								      : LOCK_IPTABLES;
	size_t i;
	int ret = 0;

	if (!ctx->nr_tcp_repairs)
		return 0;
	for (i = 0; method == LOCK_IPTABLES && i < ctx->nr_tcp_repairs; i++)
		if (iptables_unlock(ctx->tcp_repairs[i].ie, 1) || iptables_unlock(ctx->tcp_repairs[i].ie, 0))
			ret = -1;
	if (method == LOCK_NFTABLES && nftables_unlock(ctx->set))
		ret = -1;
	for (i = 0; i < ctx->nr_tcp_repairs; i++) {
		const InetSkEntry *ie = ctx->tcp_repairs[i].ie;
		int fd = ctx->tcp_repairs[i].fd, off = 0;
		int reuseaddr = ie->opts->has_reuseaddr && ie->opts->reuseaddr;
		int reuseport = ie->opts->has_so_reuseport && ie->opts->so_reuseport;

		if (inet_setopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off), ie, "TCP_REPAIR off") ||
		    inet_setopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof(int), ie, "SO_REUSEADDR") ||
		    inet_setopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof(int), ie, "SO_REUSEPORT"))
			ret = -1;
	}
	inet_close(ctx);
	return ret;
}

/* The controller's copies: closing one in repair mode (a failed restore)
 * drops the connection without a packet. */
void inet_close(struct restore_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nr_tcp_repairs; i++)
		if (ctx->tcp_repairs[i].fd >= 0)
			close(ctx->tcp_repairs[i].fd);
	free(ctx->tcp_repairs);
	ctx->tcp_repairs = NULL;
	ctx->nr_tcp_repairs = 0;
}

/* sk-inet.h: what sk-inet.c and sk-tcp.c share (private to restore/). */
#ifndef CRSTEP_SK_INET_H
#define CRSTEP_SK_INET_H

#include <sys/socket.h>

#include "restore.h"

int inet_tcp_connection(const InetSkEntry *ie);
socklen_t inet_sockaddr(struct sockaddr_storage *ss, uint32_t family, uint32_t port, const uint32_t *addr,
			uint32_t ifindex);
int inet_setopt(int sk, int level, int name, const void *val, socklen_t len, const InetSkEntry *ie,
		const char *what);
int inet_set_bufs(int sk, uint32_t snd, uint32_t rcv, const InetSkEntry *ie);

/* sk-tcp.c */
int tcp_restore(struct restore_ctx *ctx, int sk, InetSkEntry *ie);
int tcp_features_check(const struct img_set *set, const InetSkEntry *ie, const char *where, const char *state);

#endif

/* sk-unix.c: unix sockets (CRIU's sk-unix.c and sk-queue.c), made by the
 * controller before the tree is forked, like the pipes: every unix socket
 * file id is a description files_prepare() hands to the tasks (files.c).
 *
 * With every socket in one process, the order CRIU reaches through its
 * file-master handshakes is a plain sequence here:
 *   1. make them: a socketpair for two sockets that are each other's peer
 *      (socketpairs and accepted connections alike), one socket for the
 *      others; a socket that will need its receive queue filled and has
 *      no peer to fill it from gets a temporary one (CRIU's fake queuer);
 *   2. bind the bound ones (a stale socket file at the path goes first, as
 *      CRIU's unlink_sk(); a name deleted at dump time is bound, kept
 *      through an O_PATH fd and unlinked again), listen with the backlog;
 *   3. fill the receive queues from sk-queues.img, in image order, each
 *      packet sent by the peer or the temporary peer, with its SCM_RIGHTS
 *      fds; before any connect, so that a datagram socket still accepts
 *      from its temporary peer (unix_may_send());
 *   4. connect the others to their peer's name: clients of a listener
 *      become its queued, not yet accepted connections; datagram sockets
 *      in an order the kernel allows (one may be its own peer);
 *   5. the temporary peers go (a stream socket left half-closed sees EOF),
 *      then shutdown, the socket options and the file flags as dumped.
 * What this cannot rebuild is refused by unixsk_check() before anything
 * is made.  The peer credentials (SO_PEERCRED) of a pair are crstep's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

/* unix_sk_entry.uflags (CRIU's USK_*). */
#define USK_EXTERN 0x1
#define USK_SERVICE 0x2
#define USK_CALLBACK 0x4

/* unix_sk_entry.state: TCP's numbering, as unix_diag reports it. */
#define SK_ESTABLISHED 1
#define SK_LISTEN 10

#define SCM_RIGHTS_TYPE 1

struct usk {
	const FileEntry *fe;
	const UnixSkEntry *ue;
	struct usk *peer;	/* the socket ue->peer names */
	struct usk *now_peer;	/* a datagram socket's peer so far (unix_may_send()) */
	int fd;
	int sender;		/* fills the receive queue: the pair's other end or temp */
	int temp;		/* a temporary peer, closed after the queue is filled */
	int ghost;		/* O_PATH on the bound name deleted at dump time */
	int connected;
	int bound;		/* its path name is a file this restore made */
};

struct usks {
	size_t nr;
	struct usk *sk;
};

static const char *sk_kind(const UnixSkEntry *ue)
{
	return ue->type == SOCK_STREAM ? "stream" : ue->type == SOCK_DGRAM ? "datagram" :
	       ue->type == SOCK_SEQPACKET ? "seqpacket" : "unknown";
}

static int is_stream(const UnixSkEntry *ue)
{
	return ue->type != SOCK_DGRAM;
}

static int mutual(const struct usk *u)
{
	return u->peer && u->peer != u && u->peer->peer == u;
}

static int has_queue(const struct img_set *set, uint32_t id)
{
	size_t i;

	for (i = 0; i < set->sk_queues_img->nr; i++)
		if (((SkPacketEntry *)set->sk_queues_img->entries[i].msg)->id_for == id)
			return 1;
	return 0;
}

/* A socket that needs a temporary peer: a queue nobody else can fill, or
 * a stream connection whose peer was gone at dump time (CRIU's fake
 * queuer, which the dump allows only once both ways are shut down). */
static int needs_temp(const struct img_set *set, const struct usk *u)
{
	if (mutual(u))
		return 0;
	if (is_stream(u->ue) && u->ue->state == SK_ESTABLISHED && !u->peer)
		return 1;
	return !is_stream(u->ue) && has_queue(set, u->ue->id);
}

static struct usk *usk_by_ino(const struct usks *s, uint32_t ino)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (s->sk[i].ue->ino == ino)
			return &s->sk[i];
	return NULL;
}

static struct usk *usk_by_id(const struct usks *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (s->sk[i].ue->id == id)
			return &s->sk[i];
	return NULL;
}

static void usks_free(struct usks *s)
{
	size_t i;

	for (i = 0; i < s->nr; i++) {
		if (s->sk[i].fd >= 0)
			close(s->sk[i].fd);
		if (s->sk[i].temp >= 0)
			close(s->sk[i].temp);
		if (s->sk[i].ghost >= 0)
			close(s->sk[i].ghost);
	}
	free(s->sk);
	s->sk = NULL;
	s->nr = 0;
}

static int usks_collect(const struct img_set *set, struct usks *s)
{
	size_t i, n = 0;

	s->nr = 0;
	s->sk = calloc(set->nr_files + 1, sizeof(*s->sk));
	if (!s->sk)
		return error("out of memory");
	for (i = 0; i < set->nr_files; i++) {
		const FileEntry *fe = set->files[i];
		struct usk *u;

		if (fe->type != FD_TYPES__UNIXSK || !fe->usk)
			continue;
		u = &s->sk[n++];
		u->fe = fe;
		u->ue = fe->usk;
		u->fd = u->sender = u->temp = u->ghost = -1;
	}
	s->nr = n;
	for (i = 0; i < n; i++)
		if (s->sk[i].ue->peer)
			s->sk[i].peer = usk_by_ino(s, s->sk[i].ue->peer);
	return 0;
}

/* The file types an fd in flight may have: what files_prepare() opens. */
static int scm_file_ok(const FileEntry *f)
{
	return f && (f->type == FD_TYPES__REG || f->type == FD_TYPES__PIPE || f->type == FD_TYPES__MEMFD ||
		     f->type == FD_TYPES__UNIXSK);
}

static const char *file_type_name(const FileEntry *f)
{
	const ProtobufCEnumValue *v = f ? protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, f->type) : NULL;

	return v ? v->name : "file of unknown type";
}

static int check_one(const struct img_set *set, const struct usk *u)
{
	const UnixSkEntry *ue = u->ue;

#define REFUSE(fmt, ...) error("files.img: unix socket id %u (ino %u, %s): " fmt ": not restored yet", \
			       ue->id, ue->ino, sk_kind(ue), ##__VA_ARGS__)
	if (ue->type != SOCK_STREAM && ue->type != SOCK_DGRAM && ue->type != SOCK_SEQPACKET)
		return REFUSE("socket type %u", ue->type);
	if (ue->uflags & USK_EXTERN)
		return REFUSE("outside the dumped tree, the peer of a socket in it (criu restore --ext-unix-sk)");
	if (ue->uflags & USK_SERVICE)
		return REFUSE("connected to criu's own service socket");
	if (ue->uflags & USK_CALLBACK)
		return REFUSE("dumped by a criu plugin");
	if (ue->name.len > sizeof(((struct sockaddr_un *)0)->sun_path))
		return REFUSE("a name of %zu bytes", ue->name.len);
	if (ue->peer && !u->peer)
		return REFUSE("its peer, ino %u, is not in the images", ue->peer);
	if (ue->deleted && (!ue->name.len || !ue->name.data[0]))
		return REFUSE("a deleted name that is not a path");
	if (u->peer && !mutual(u) && !u->peer->ue->name.len)
		return REFUSE("connected to ino %u, which has no name to connect to", ue->peer);
	/* A pair is made connected (socketpair()), and a datagram socket
	 * with a peer of its own takes nobody else's connect. */
	if (u->peer && !mutual(u) && !is_stream(ue) && mutual(u->peer))
		return REFUSE("connected to ino %u, one of two datagram sockets connected to each other", ue->peer);
	if (u->peer && !mutual(u) && is_stream(ue)) {
		if (u->peer->ue->state != SK_LISTEN || u->peer->ue->type != ue->type)
			return REFUSE("connected to ino %u, neither its peer nor a listening %s socket", ue->peer,
				      sk_kind(ue));
		if (has_queue(set, ue->id))
			return REFUSE("data queued on a connection not yet accepted");
	}
	if (is_stream(ue) && ue->state == SK_ESTABLISHED && !u->peer &&
	    (!ue->has_shutdown || ue->shutdown != SK_SHUTDOWN__BOTH))
		return REFUSE("connected, without a peer, and not shut down both ways");
	if (ue->opts->n_so_filter)
		return REFUSE("a socket filter (SO_ATTACH_FILTER)");
	if (ue->opts->so_bound_dev)
		return REFUSE("bound to a device (SO_BINDTODEVICE %s)", ue->opts->so_bound_dev);
#undef REFUSE
	return 0;
}

/* Before anything is forked: what crstep cannot rebuild, named. */
int unixsk_check(const struct img_set *set)
{
	struct usks s;
	size_t i, j, k;
	int ret = 0;

	if (usks_collect(set, &s))
		return -1;
	for (i = 0; i < s.nr && !ret; i++)
		ret = check_one(set, &s.sk[i]);
	for (i = 0; i < set->sk_queues_img->nr && !ret; i++) {
		const SkPacketEntry *pe = (SkPacketEntry *)set->sk_queues_img->entries[i].msg;

		if (!usk_by_id(&s, pe->id_for))
			ret = error("sk-queues.img: entry %zu: queued on file id %u, not a unix socket in files.img",
				    i, pe->id_for);
		for (j = 0; j < pe->n_scm && !ret; j++) {
			if (pe->scm[j]->type != SCM_RIGHTS_TYPE) {
				ret = error("sk-queues.img: entry %zu: control message type %u: not restored yet", i,
					    pe->scm[j]->type);
				break;
			}
			for (k = 0; k < pe->scm[j]->n_rights && !ret; k++) {
				const FileEntry *f = imgset_file(set, pe->scm[j]->rights[k]);

				if (!scm_file_ok(f))
					ret = error("sk-queues.img: entry %zu: an fd in flight (SCM_RIGHTS) is a %s "
						    "(file id %u): not restored yet", i, file_type_name(f),
						    pe->scm[j]->rights[k]);
			}
		}
	}
	usks_free(&s);
	return ret;
}

/* The file ids files_prepare() must open in the controller for the
 * sockets: every unix socket, and every file in flight. */
int unixsk_shared_ids(const struct img_set *set, int (*add)(struct restore_ctx *, uint32_t),
		      struct restore_ctx *ctx)
{
	size_t i, j, k;

	for (i = 0; i < set->nr_files; i++)
		if (set->files[i]->type == FD_TYPES__UNIXSK && add(ctx, set->files[i]->id))
			return -1;
	for (i = 0; i < set->sk_queues_img->nr; i++) {
		const SkPacketEntry *pe = (SkPacketEntry *)set->sk_queues_img->entries[i].msg;

		for (j = 0; j < pe->n_scm; j++)
			for (k = 0; k < pe->scm[j]->n_rights; k++)
				if (add(ctx, pe->scm[j]->rights[k]))
					return -1;
	}
	return 0;
}

/* A relative name was bound in name_dir: the controller goes there for
 * the call and back (*saved: its cwd, -1 when it did not move). */
static int enter_name_dir(const UnixSkEntry *ue, int *saved)
{
	*saved = -1;
	if (!ue->name.len || !ue->name.data[0] || ue->name.data[0] == '/' || !ue->name_dir)
		return 0;
	*saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*saved < 0)
		return error("unix socket id %u: cannot open crstep's cwd: %s", ue->id, strerror(errno));
	if (chdir(ue->name_dir)) {
		error("unix socket id %u: cannot enter %s, where %.*s was bound: %s", ue->id, ue->name_dir,
		      (int)ue->name.len, ue->name.data, strerror(errno));
		close(*saved);
		*saved = -1;
		return -1;
	}
	return 0;
}

static int leave_name_dir(int saved)
{
	int ret = 0;

	if (saved < 0)
		return 0;
	if (fchdir(saved))
		ret = error("cannot go back to crstep's cwd: %s", strerror(errno));
	close(saved);
	return ret;
}

static socklen_t sk_addr(const UnixSkEntry *ue, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, ue->name.data, ue->name.len);
	return offsetof(struct sockaddr_un, sun_path) + ue->name.len;
}

/* The name as a C string (a path name; an abstract one is shown with '@'). */
static const char *sk_name(const UnixSkEntry *ue, char *buf, size_t len)
{
	size_t n = ue->name.len < len - 1 ? ue->name.len : len - 1, i;

	for (i = 0; i < n; i++)
		buf[i] = ue->name.data[i] ? (char)ue->name.data[i] : (i ? '\0' : '@');
	buf[n] = '\0';
	return buf;
}

static int restore_perms(const UnixSkEntry *ue, const char *path)
{
	const FilePermsEntry *p = ue->file_perms;

	if (!p)
		return 0;
	if (lchown(path, p->uid, p->gid) || chmod(path, p->mode & 07777))
		return error("unix socket id %u: %s: owner %u:%u mode %o: %s", ue->id, path, p->uid, p->gid,
			     p->mode & 07777, strerror(errno));
	return 0;
}

/* A name deleted at dump time: its directories made if gone, whatever has
 * the path now moved aside, bound, kept through an O_PATH fd (peers connect
 * through /proc/self/fd/N), unlinked, and everything put back (CRIU's
 * bind_on_deleted()). */
static int bind_deleted(struct usk *u, const char *path)
{
	char dir[PATH_MAX], parked[PATH_MAX + 32], *slash;
	struct sockaddr_un a;
	socklen_t len = sk_addr(u->ue, &a);
	size_t made = 0, i;
	char made_dirs[8][PATH_MAX];
	int ret = -1, moved = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	/* The missing directories, outermost first. */
	for (slash = strrchr(dir, '/'); slash && slash != dir; slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (!access(dir, F_OK))
			break;
		if (made == 8)
			return error("unix socket id %u: %s: too many missing directories", u->ue->id, path);
		snprintf(made_dirs[made++], PATH_MAX, "%s", dir);
	}
	for (i = made; i-- > 0;)
		if (mkdir(made_dirs[i], 0755)) {
			error("unix socket id %u: cannot make %s for the deleted name %s: %s", u->ue->id, made_dirs[i],
			      path, strerror(errno));
			while (++i < made)
				rmdir(made_dirs[i]);
			return -1;
		}
	snprintf(parked, sizeof(parked), "%s.crstep-sk-ghost", path);
	if (!access(path, F_OK)) {
		if (rename(path, parked)) {
			error("unix socket id %u: cannot move %s aside: %s", u->ue->id, path, strerror(errno));
			goto rmdirs;
		}
		moved = 1;
	}
	if (bind(u->fd, (struct sockaddr *)&a, len)) {
		error("unix socket id %u: cannot bind the deleted name %s: %s", u->ue->id, path, strerror(errno));
		goto unpark;
	}
	ret = restore_perms(u->ue, path);
	if (!ret) {
		u->ghost = open(path, O_PATH | O_CLOEXEC);
		if (u->ghost < 0)
			ret = error("unix socket id %u: cannot hold %s: %s", u->ue->id, path, strerror(errno));
	}
	if (unlink(path) && !ret)
		ret = error("unix socket id %u: cannot unlink the deleted name %s again: %s", u->ue->id, path,
			    strerror(errno));
unpark:
	if (moved && rename(parked, path))
		ret = error("unix socket id %u: cannot move %s back: %s", u->ue->id, path, strerror(errno));
rmdirs:
	/* Innermost first. */
	for (i = 0; i < made; i++)
		rmdir(made_dirs[i]);
	return ret;
}

static int bind_one(struct usk *u)
{
	const UnixSkEntry *ue = u->ue;
	struct sockaddr_un a;
	socklen_t len = sk_addr(ue, &a);
	char path[sizeof(a.sun_path) + 1];
	struct stat st;
	int saved, ret = 0;

	/* A connected stream socket's name is its listener's (accept()
	 * copies it); no second bind can give it that (CRIU's FIXME too). */
	if (!ue->name.len || (is_stream(ue) && ue->state == SK_ESTABLISHED))
		return 0;
	if (!ue->name.data[0]) {
		if (bind(u->fd, (struct sockaddr *)&a, len))
			return error("unix socket id %u: cannot bind the abstract name %s: %s", ue->id,
				     sk_name(ue, path, sizeof(path)), strerror(errno));
		return 0;
	}
	sk_name(ue, path, sizeof(path));
	if (enter_name_dir(ue, &saved))
		return -1;
	if (ue->deleted)
		ret = bind_deleted(u, path);
	else {
		/* A socket file left at the path by an earlier life goes
		 * (CRIU's unlink_sk()); anything else stays and the bind fails. */
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
		if (bind(u->fd, (struct sockaddr *)&a, len))
			ret = error("unix socket id %u: cannot bind %s%s%s: %s", ue->id,
				    path[0] != '/' && ue->name_dir ? ue->name_dir : "",
				    path[0] != '/' && ue->name_dir ? "/" : "", path, strerror(errno));
		else {
			u->bound = 1;
			ret = restore_perms(ue, path);
		}
	}
	if (leave_name_dir(saved))
		ret = -1;
	return ret;
}

static int make_one(const struct img_set *set, struct usk *u)
{
	int sv[2];

	if (u->fd >= 0)
		return 0;
	if (mutual(u)) {
		if (socketpair(AF_UNIX, u->ue->type | SOCK_CLOEXEC, 0, sv))
			return error("unix socket id %u: socketpair: %s", u->ue->id, strerror(errno));
		u->fd = sv[0];
		u->peer->fd = sv[1];
		u->sender = sv[1];
		u->peer->sender = sv[0];
		u->now_peer = u->peer;
		u->peer->now_peer = u;
		u->connected = u->peer->connected = 1;
		return 0;
	}
	if (needs_temp(set, u)) {
		if (socketpair(AF_UNIX, u->ue->type | SOCK_CLOEXEC, 0, sv))
			return error("unix socket id %u: socketpair: %s", u->ue->id, strerror(errno));
		u->fd = sv[0];
		u->temp = u->sender = sv[1];
		/* A datagram socket forgets its temporary peer, which still
		 * sends to it: others may connect to it, and so may it. */
		if (!is_stream(u->ue)) {
			struct sockaddr sa = { .sa_family = AF_UNSPEC };

			if (connect(u->fd, &sa, sizeof(sa)))
				return error("unix socket id %u: cannot drop its temporary peer: %s", u->ue->id,
					     strerror(errno));
		}
		return 0;
	}
	u->fd = socket(AF_UNIX, u->ue->type | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return error("unix socket id %u: socket: %s", u->ue->id, strerror(errno));
	return 0;
}

/* The fd of a file in flight: a socket of ours, or a description
 * files_prepare() opened. */
static int scm_fd(const struct restore_ctx *ctx, const struct usks *s, uint32_t id)
{
	const struct usk *u = usk_by_id(s, id);
	size_t i;

	if (u)
		return u->fd;
	for (i = 0; i < ctx->nr_files; i++)
		if (ctx->files[i].id == id)
			return ctx->files[i].fd;
	return -1;
}

/* Room for every queued byte on the sending side (CRIU's
 * restore_prepare_socket()); the dumped sizes come back afterwards. */
static void sender_prepare(int fd)
{
	int max = INT_MAX / 2;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &max, sizeof(max)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &max, sizeof(max));
}

static int send_packet(const struct restore_ctx *ctx, const struct usks *s, const struct img_entry *e,
		       size_t idx)
{
	const SkPacketEntry *pe = (SkPacketEntry *)e->msg;
	struct usk *u = usk_by_id(s, pe->id_for);
	size_t nr = pe->n_scm ? pe->scm[0]->n_rights : 0, k;
	struct iovec iov = { (void *)e->extra, e->extra_len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char *cbuf = NULL;
	ssize_t n;

	if (!u || u->sender < 0)
		return error("sk-queues.img: entry %zu: socket id %u has no peer to queue it from", idx, pe->id_for);
	if (nr) {
		struct cmsghdr *ch;

		cbuf = calloc(1, CMSG_SPACE(nr * sizeof(int)));
		if (!cbuf)
			return error("out of memory");
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(nr * sizeof(int));
		for (k = 0; k < nr; k++) {
			int fd = scm_fd(ctx, s, pe->scm[0]->rights[k]);

			if (fd < 0) {
				free(cbuf);
				return error("sk-queues.img: entry %zu: the fd in flight, file id %u, was not opened", idx,
					     pe->scm[0]->rights[k]);
			}
			memcpy(CMSG_DATA(ch) + k * sizeof(int), &fd, sizeof(int));
		}
	}
	n = sendmsg(u->sender, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(cbuf);
	if (n != (ssize_t)e->extra_len)
		return error("sk-queues.img: entry %zu: queueing %zu bytes on socket id %u: %s", idx, e->extra_len,
			     pe->id_for, n < 0 ? strerror(errno) : "short send");
	return 0;
}

static int fill_queues(const struct restore_ctx *ctx, struct usks *s)
{
	const struct image *img = ctx->set->sk_queues_img;
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (s->sk[i].sender >= 0 && has_queue(ctx->set, s->sk[i].ue->id))
			sender_prepare(s->sk[i].sender);
	for (i = 0; i < img->nr; i++)
		if (send_packet(ctx, s, &img->entries[i], i))
			return -1;
	return 0;
}

static int connect_one(struct usk *u)
{
	const UnixSkEntry *pe = u->peer->ue;
	struct sockaddr_un a;
	socklen_t len;
	int saved = -1, ret = 0, fl = fcntl(u->fd, F_GETFL);
	char name[sizeof(a.sun_path) + 1];

	if (u->peer->ghost >= 0) {
		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", u->peer->ghost);
		len = sizeof(a);
	} else {
		len = sk_addr(pe, &a);
		if (enter_name_dir(pe, &saved))
			return -1;
	}
	/* Never wait for room in a listener's backlog. */
	if (fl < 0 || fcntl(u->fd, F_SETFL, fl | O_NONBLOCK))
		ret = error("unix socket id %u: fcntl: %s", u->ue->id, strerror(errno));
	else if (connect(u->fd, (struct sockaddr *)&a, len))
		ret = error("unix socket id %u: cannot connect to ino %u (%s%s): %s", u->ue->id, pe->ino,
			    sk_name(pe, name, sizeof(name)), pe->deleted ? ", deleted" : "", strerror(errno));
	if (leave_name_dir(saved))
		ret = -1;
	u->connected = 1;
	u->now_peer = u->peer;
	return ret;
}

/* Stream clients first (their listener is listening), then datagram
 * sockets, each once its peer may accept it: a datagram socket can be
 * connected to only while it has no peer of its own or has this one. */
static int connect_all(struct usks *s)
{
	size_t i, left;

	for (i = 0; i < s->nr; i++)
		if (s->sk[i].peer && !s->sk[i].connected && is_stream(s->sk[i].ue) && connect_one(&s->sk[i]))
			return -1;
	do {
		int progress = 0;

		left = 0;
		for (i = 0; i < s->nr; i++) {
			struct usk *u = &s->sk[i];

			if (!u->peer || u->connected)
				continue;
			if (u->peer->now_peer && u->peer->now_peer != u) {
				left++;
				continue;
			}
			if (connect_one(u))
				return -1;
			progress = 1;
		}
		if (left && !progress)
			return error("unix sockets: %zu datagram sockets cannot be connected in any order", left);
	} while (left);
	return 0;
}

static int set_opt(const UnixSkEntry *ue, int fd, int name, const char *what, const void *v, socklen_t len)
{
	if (setsockopt(fd, SOL_SOCKET, name, v, len))
		return error("unix socket id %u: %s: %s", ue->id, what, strerror(errno));
	return 0;
}

/* The socket options as dumped (CRIU's restore_socket_opts()): the kernel
 * doubles the buffer sizes it is given, and reports them doubled. */
static int restore_opts(const UnixSkEntry *ue, int fd)
{
	const SkOptsEntry *o = ue->opts;
	int snd = o->so_sndbuf / 2, rcv = o->so_rcvbuf / 2, one = 1, ret = 0;
	struct timeval tv;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)))
		ret |= set_opt(ue, fd, SO_SNDBUF, "SO_SNDBUF", &snd, sizeof(snd));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		ret |= set_opt(ue, fd, SO_RCVBUF, "SO_RCVBUF", &rcv, sizeof(rcv));
	if (o->has_so_buf_lock)
		ret |= set_opt(ue, fd, SO_BUF_LOCK, "SO_BUF_LOCK", &o->so_buf_lock, sizeof(o->so_buf_lock));
	if (o->has_so_priority)
		ret |= set_opt(ue, fd, SO_PRIORITY, "SO_PRIORITY", &o->so_priority, sizeof(o->so_priority));
	if (o->has_so_rcvlowat)
		ret |= set_opt(ue, fd, SO_RCVLOWAT, "SO_RCVLOWAT", &o->so_rcvlowat, sizeof(o->so_rcvlowat));
	if (o->has_so_mark)
		ret |= set_opt(ue, fd, SO_MARK, "SO_MARK", &o->so_mark, sizeof(o->so_mark));
	if (o->has_so_passcred && o->so_passcred)
		ret |= set_opt(ue, fd, SO_PASSCRED, "SO_PASSCRED", &one, sizeof(one));
	if (o->has_so_passsec && o->so_passsec)
		ret |= set_opt(ue, fd, SO_PASSSEC, "SO_PASSSEC", &one, sizeof(one));
	if (o->has_so_dontroute && o->so_dontroute)
		ret |= set_opt(ue, fd, SO_DONTROUTE, "SO_DONTROUTE", &one, sizeof(one));
	if (o->has_so_keepalive && o->so_keepalive)
		ret |= set_opt(ue, fd, SO_KEEPALIVE, "SO_KEEPALIVE", &one, sizeof(one));
	if (o->has_reuseaddr && o->reuseaddr)
		ret |= set_opt(ue, fd, SO_REUSEADDR, "SO_REUSEADDR", &one, sizeof(one));
	tv.tv_sec = o->so_snd_tmo_sec;
	tv.tv_usec = o->so_snd_tmo_usec;
	ret |= set_opt(ue, fd, SO_SNDTIMEO, "SO_SNDTIMEO", &tv, sizeof(tv));
	tv.tv_sec = o->so_rcv_tmo_sec;
	tv.tv_usec = o->so_rcv_tmo_usec;
	ret |= set_opt(ue, fd, SO_RCVTIMEO, "SO_RCVTIMEO", &tv, sizeof(tv));
	return ret ? -1 : 0;
}

static int finish_one(struct usk *u)
{
	const UnixSkEntry *ue = u->ue;
	static const int how[] = { 0, SHUT_RD, SHUT_WR, SHUT_RDWR };

	if (ue->has_shutdown && ue->shutdown > 0 && ue->shutdown <= 3 && shutdown(u->fd, how[ue->shutdown]))
		return error("unix socket id %u: shutdown %d: %s", ue->id, ue->shutdown, strerror(errno));
	if (restore_opts(ue, u->fd))
		return -1;
	if (fcntl(u->fd, F_SETFL, ue->flags & ~O_ACCMODE))
		return error("unix socket id %u: file flags %#o: %s", ue->id, ue->flags, strerror(errno));
	return 0;
}

/* A failed restore leaves none of the socket files it bound. */
static void unbind_all(const struct usks *s)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	size_t i;
	int saved;

	for (i = 0; i < s->nr; i++) {
		if (!s->sk[i].bound || enter_name_dir(s->sk[i].ue, &saved))
			continue;
		unlink(sk_name(s->sk[i].ue, path, sizeof(path)));
		leave_name_dir(saved);
	}
}

/* The controller, from files_prepare(), once every other description the
 * tasks share is open (the fds in flight are among them): every unix
 * socket of the images, handed over as ctx->files' descriptions. */
int unixsk_prepare(struct restore_ctx *ctx)
{
	struct usks s;
	size_t i, j;
	int ret = -1;

	if (usks_collect(ctx->set, &s))
		return -1;
	if (!s.nr) {
		usks_free(&s);
		return 0;
	}
	for (i = 0; i < s.nr; i++)
		if (make_one(ctx->set, &s.sk[i]))
			goto out;
	for (i = 0; i < s.nr; i++)
		if (bind_one(&s.sk[i]))
			goto out;
	for (i = 0; i < s.nr; i++)
		if (s.sk[i].ue->state == SK_LISTEN && listen(s.sk[i].fd, s.sk[i].ue->backlog))
			goto out_errno_listen;
	if (fill_queues(ctx, &s) || connect_all(&s))
		goto out;
	for (i = 0; i < s.nr; i++)
		if (s.sk[i].temp >= 0) {
			close(s.sk[i].temp);
			s.sk[i].temp = -1;
		}
	for (i = 0; i < s.nr; i++)
		if (finish_one(&s.sk[i]))
			goto out;
	for (i = 0; i < ctx->nr_files; i++)
		for (j = 0; j < s.nr; j++)
			if (ctx->files[i].id == s.sk[j].ue->id) {
				ctx->files[i].fd = s.sk[j].fd;
				s.sk[j].fd = -1;
			}
	ret = 0;
	goto out;
out_errno_listen:
	error("unix socket id %u: listen with backlog %u: %s", s.sk[i].ue->id, s.sk[i].ue->backlog, strerror(errno));
out:
	if (ret)
		unbind_all(&s);
	usks_free(&s);
	return ret;
}

/* seccomp.c: each thread's seccomp mode and filter chain, from its
 * thread_core and seccomp.img into the restorer's args (the blob installs
 * them in RESTORE_CREDS, restore/pie/timers.c).
 *
 * seccomp.img holds every filter of every thread once; a thread's
 * thread_core names the oldest of its chain (seccomp_filter) and each
 * filter the next newer one (CRIU calls it prev).  They are installed in
 * that order, oldest first, as CRIU's restorer does (the timers fixture's
 * C tells: of two filters that fail getpid with EPERM and EACCES, the
 * kernel answers with the newer one's), each with the flags CRIU
 * recorded: when all threads of a process
 * had the same chain, CRIU's dump keeps it for the leader only, with
 * SECCOMP_FILTER_FLAG_TSYNC, and the others' mode says disabled — the
 * leader's TSYNC gives them the chain.  Images from before per-thread
 * seccomp carry the mode in the task core (old_seccomp_mode), restored on
 * the leader with TSYNC as CRIU does. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>

#include "log.h"
#include "restore.h"

#define SECCOMP_FLAGS_KNOWN (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)

struct thread_seccomp {
	uint32_t mode;
	int has_filter;
	uint32_t filter;	/* index into seccomp.img */
	uint32_t force_flags;
};

static void thread_seccomp(const struct img_task *t, size_t i, struct thread_seccomp *s)
{
	const ThreadCoreEntry *tcore = t->threads[i].core->thread_core;
	const TaskCoreEntry *tc = t->core->tc;

	memset(s, 0, sizeof(*s));
	if (tcore && tcore->has_seccomp_mode) {
		s->mode = tcore->seccomp_mode;
		s->has_filter = tcore->has_seccomp_filter;
		s->filter = tcore->seccomp_filter;
	} else if (i == 0 && tc && tc->has_old_seccomp_mode) {
		s->mode = tc->old_seccomp_mode;
		s->has_filter = tc->has_old_seccomp_filter;
		s->filter = tc->old_seccomp_filter;
		s->force_flags = SECCOMP_FILTER_FLAG_TSYNC;
	}
}

static const SeccompEntry *seccomp_entry(const struct img_set *set)
{
	return set->seccomp_img && set->seccomp_img->nr ? (const SeccompEntry *)set->seccomp_img->entries[0].msg : NULL;
}

int seccomp_task_uses(const struct img_task *t)
{
	struct thread_seccomp s;
	size_t i;

	for (i = 0; !t->zombie && i < t->nr_threads; i++) {
		thread_seccomp(t, i, &s);
		if (s.mode != SECCOMP_MODE_DISABLED)
			return 1;
	}
	return 0;
}

/* Walks thread i's chain; *nr and *bytes get its length and the room its
 * programs take. */
static int walk_chain(const struct img_set *set, const struct img_task *t, size_t i, size_t *nr, size_t *bytes)
{
	const SeccompEntry *se = seccomp_entry(set);
	uint32_t tid = t->threads[i].tid;
	struct thread_seccomp s;
	const SeccompFilter *f;
	uint32_t at;

	*nr = *bytes = 0;
	thread_seccomp(t, i, &s);
	if (s.mode == SECCOMP_MODE_DISABLED || s.mode == SECCOMP_MODE_STRICT)
		return 0;
	if (s.mode != SECCOMP_MODE_FILTER)
		return error("core-%u.img: seccomp mode %u: unknown", tid, s.mode);
	if (!s.has_filter)
		return error("core-%u.img: seccomp filter mode without a filter", tid);
	for (at = s.filter;; at = f->prev) {
		if (!se || at >= se->n_seccomp_filters)
			return error("seccomp.img: thread %u's filter chain names filter %u of %zu", tid, at,
				     se ? se->n_seccomp_filters : (size_t)0);
		if (*nr >= se->n_seccomp_filters)
			return error("seccomp.img: thread %u's filter chain loops (at filter %u)", tid, at);
		f = se->seccomp_filters[at];
		if (!f->filter.len || f->filter.len % sizeof(struct sock_filter) ||
		    f->filter.len / sizeof(struct sock_filter) > BPF_MAXINSNS)
			return error("seccomp.img: filter %u: %zu bytes is not a classic BPF program", at,
				     f->filter.len);
		if (f->has_flags && (f->flags & ~SECCOMP_FLAGS_KNOWN))
			return error("seccomp.img: filter %u: flags %#x: not restored", at, f->flags);
		(*nr)++;
		*bytes += f->filter.len;
		if (!f->has_prev)
			return 0;
	}
}

int seccomp_check(const struct img_set *set, const struct img_task *t)
{
	size_t i, nr, bytes;

	for (i = 0; !t->zombie && i < t->nr_threads; i++)
		if (walk_chain(set, t, i, &nr, &bytes))
			return -1;
	return 0;
}

size_t seccomp_args_size(const struct img_set *set, const struct img_task *t)
{
	size_t i, nr, bytes, total = 0;

	for (i = 0; i < t->nr_threads; i++)
		if (!walk_chain(set, t, i, &nr, &bytes))
			total += nr * sizeof(struct rst_seccomp_filter) + bytes;
	return total;
}

/* area: room for seccomp_args_size() bytes in the bootstrap area (8-byte
 * aligned); the check passed. */
void seccomp_args_fill(const struct img_set *set, const struct img_task *t, struct restorer_args *a, void *area)
{
	const SeccompEntry *se = seccomp_entry(set);
	char *p = area;
	size_t i, k, nr, bytes;

	for (i = 0; i < t->nr_threads; i++) {
		struct rst_thread *th = &a->threads[i];
		struct thread_seccomp s;
		uint32_t at;

		thread_seccomp(t, i, &s);
		th->seccomp_mode = s.mode;
		if (s.mode != SECCOMP_MODE_FILTER || walk_chain(set, t, i, &nr, &bytes))
			continue;
		th->seccomp = (struct rst_seccomp_filter *)p;
		th->nr_seccomp = nr;
		p += nr * sizeof(struct rst_seccomp_filter);
		for (k = 0, at = s.filter; k < nr; k++) {
			const SeccompFilter *f = se->seccomp_filters[at];

			th->seccomp[k].flags = (f->has_flags ? f->flags : 0) | s.force_flags;
			th->seccomp[k].len = f->filter.len / sizeof(struct sock_filter);
			th->seccomp[k].insns = (uint64_t)p;
			memcpy(p, f->filter.data, f->filter.len);
			p += f->filter.len;
			at = f->prev;
		}
	}
}

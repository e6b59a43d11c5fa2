/* check-sk.c: sk-queues.img against files.img, part of imgset_check().
 * Each packet is queued on a unix socket files.img has, carries at most
 * one control message (the kernel merges SCM_RIGHTS; CRIU dumps no other
 * kind), and the fds in flight are files files.img has. */
#include <stdio.h>

#include "image.h"
#include "log.h"

#define SCM_RIGHTS_TYPE 1

int check_sk_queues(const struct img_set *set)
{
	const struct image *img = set->sk_queues_img;
	size_t i, j, k;
	int bad = 0;

	for (i = 0; img && i < img->nr; i++) {
		const SkPacketEntry *pe = (SkPacketEntry *)img->entries[i].msg;
		const FileEntry *f = imgset_file(set, pe->id_for);

		if (!f || f->type != FD_TYPES__UNIXSK || !f->usk)
			bad += error("%s: entry %zu: id_for %u: no unix socket in files.img has it", img->path, i,
				     pe->id_for) < 0;
		if (pe->n_scm > 1)
			bad += error("%s: entry %zu: %zu control messages on one packet (the kernel merges them)",
				     img->path, i, pe->n_scm) < 0;
		for (j = 0; j < pe->n_scm; j++) {
			if (pe->scm[j]->type != SCM_RIGHTS_TYPE) {
				bad += error("%s: entry %zu: control message type %u is not SCM_RIGHTS", img->path, i,
					     pe->scm[j]->type) < 0;
				continue;
			}
			for (k = 0; k < pe->scm[j]->n_rights; k++)
				if (!imgset_file(set, pe->scm[j]->rights[k]))
					bad += error("%s: entry %zu: an fd in flight is file id %u, not in files.img",
						     img->path, i, pe->scm[j]->rights[k]) < 0;
		}
	}
	return bad;
}

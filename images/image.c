/* image.c: read CRIU image files.
 *
 * Framing (CRIU's image.c): inventory.img starts with one magic word; other
 * protobuf images with the common magic then the type magic (service files
 * such as stats-* with the service magic); pages-*.img are raw.  Then entries
 * follow until EOF, each a host-endian u32 length and a packed message, and
 * for some types (pipes-data) a raw payload whose size a field names.
 * Anything malformed is refused with one line: file, entry index, reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"

#define D(n, p, m, f, msg, head) { n, p, m, f, msg, head }

const struct img_desc img_descs[] = {
	D("INVENTORY", "inventory", INVENTORY_MAGIC, IMG_NO_COMMON, &inventory_entry__descriptor, NULL),
	D("PSTREE", "pstree", 0x50273030, 0, &pstree_entry__descriptor, NULL),
	D("CORE", "core-", 0x55053847, 0, &core_entry__descriptor, NULL),
	D("IDS", "ids-", 0x54432030, 0, &task_kobj_ids_entry__descriptor, NULL),
	D("MM", "mm-", 0x57492820, 0, &mm_entry__descriptor, NULL),
	/* pagemap-shmem-* shares pagemap's magic; crit names both PAGEMAP. */
	D("PAGEMAP", "pagemap-shmem-", 0x56084025, IMG_HEAD, &pagemap_entry__descriptor, &pagemap_head__descriptor),
	D("PAGEMAP", "pagemap-", 0x56084025, IMG_HEAD, &pagemap_entry__descriptor, &pagemap_head__descriptor),
	D("FILES", "files", 0x56303138, 0, &file_entry__descriptor, NULL),
	D("FDINFO", "fdinfo-", 0x56213732, 0, &fdinfo_entry__descriptor, NULL),
	D("FS", "fs-", 0x51403912, 0, &fs_entry__descriptor, NULL),
	D("PIPES_DATA", "pipes-data", 0x56453709, IMG_EXTRA, &pipe_data_entry__descriptor, NULL),
	/* A FIFO's buffered bytes, as pipes-data's (fdkinds.c). */
	D("FIFO_DATA", "fifo-data", 0x59333054, IMG_EXTRA, &pipe_data_entry__descriptor, NULL),
	/* Terminals (tty.c). */
	D("TTY_INFO", "tty-info", 0x59453036, 0, &tty_info_entry__descriptor, NULL),
	D("TTY_DATA", "tty-data", 0x59413026, 0, &tty_data_entry__descriptor, NULL),
	D("SECCOMP", "seccomp", 0x64413049, 0, &seccomp_entry__descriptor, NULL),
	D("TIMENS", "timens-", 0x43114433, 0, &timens_entry__descriptor, NULL),
	D("STATS", "stats-", 0x57093306, IMG_SERVICE, &stats_entry__descriptor, NULL),
	D("FILE_LOCKS", "filelocks", 0x54323616, 0, &file_lock_entry__descriptor, NULL),
	D("MEMFD_INODE", "memfd", 0x48453499, 0, &memfd_inode_entry__descriptor, NULL),
	D("REMAP_FPATH", "remap-fpath", 0x59133954, 0, &remap_file_path_entry__descriptor, NULL),
	/* A ghost file: its entry, then its contents raw to the end, or as
	 * chunks (an entry naming offset and length, then the bytes). */
	D("GHOST_FILE", "ghost-file-", 0x52583605, IMG_HEAD | IMG_EXTRA, &ghost_chunk_entry__descriptor,
	  &ghost_file_entry__descriptor),
	/* Unix sockets: the packets queued on them, each followed by its
	 * bytes; unixsk.img is where CRIU before files.img's usk kept them. */
	D("SK_QUEUES", "sk-queues", 0x56264026, IMG_EXTRA, &sk_packet_entry__descriptor, NULL),
	D("UNIXSK", "unixsk", 0x54373943, 0, &unix_sk_entry__descriptor, NULL),
	/* An established TCP connection: its entry, then its queues' bytes. */
	D("TCP_STREAM", "tcp-stream-", 0x51465506, IMG_EXTRA, &tcp_stream_entry__descriptor, NULL),
	D("PAGES", "pages-", 0, IMG_RAW, NULL, NULL),
	{ 0 },
};

const struct img_desc *img_desc_by_file(const char *base)
{
	const struct img_desc *d;

	for (d = img_descs; d->name; d++)
		if (!strncmp(base, d->prefix, strlen(d->prefix)))
			return d;
	return NULL;
}

const struct img_desc *img_desc_by_name(const char *name)
{
	const struct img_desc *d;

	for (d = img_descs; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

const struct img_desc *img_desc_by_magic(uint32_t first, uint32_t second)
{
	const struct img_desc *d;

	for (d = img_descs; d->name; d++) {
		if (d->flags & IMG_RAW)
			continue;
		if (d->flags & IMG_NO_COMMON) {
			if (first == d->magic)
				return d;
			continue;
		}
		if (second != d->magic)
			continue;
		if (first == ((d->flags & IMG_SERVICE) ? IMG_SERVICE_MAGIC : IMG_COMMON_MAGIC))
			return d;
	}
	return NULL;
}

void image_free(struct image *img)
{
	size_t i;

	if (!img)
		return;
	for (i = 0; i < img->nr; i++)
		if (img->entries[i].msg)
			protobuf_c_message_free_unpacked(img->entries[i].msg, NULL);
	free(img->entries);
	free(img->data);
	free(img);
}

static int slurp(struct image *img)
{
	struct stat st;
	size_t off = 0;
	int fd;

	fd = open(img->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : error("%s: cannot open: %s", img->path, strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return error("%s: cannot stat: %s", img->path, strerror(errno));
	}
	img->size = st.st_size;
	img->data = malloc(img->size + 1);
	if (!img->data) {
		close(fd);
		return error("%s: out of memory for %zu bytes", img->path, img->size);
	}
	while (off < img->size) {
		ssize_t n = read(fd, img->data + off, img->size - off);

		if (n <= 0) {
			close(fd);
			return error("%s: read failed at offset %zu: %s", img->path, off,
				     n ? strerror(errno) : "unexpected end of file");
		}
		off += n;
	}
	close(fd);
	return 0;
}

static int check_magic(struct image *img, size_t *off)
{
	const struct img_desc *d = img->desc;
	uint32_t w[2] = { 0, 0 };
	size_t need = (d->flags & IMG_NO_COMMON) ? 4 : 8;
	const struct img_desc *found;

	if (img->size < need)
		return error("%s: entry 0: file too short for the magic (%zu bytes)", img->path, img->size);
	memcpy(w, img->data, need);
	found = img_desc_by_magic(w[0], w[1]);
	if (found != d && !(found && found->magic == d->magic && found->flags == d->flags))
		return error("%s: entry 0: bad magic 0x%08x%s%.0x, not a %s image", img->path,
			     w[0], need == 8 ? " 0x" : "", need == 8 ? w[1] : 0, d->name);
	*off = need;
	return 0;
}

/* The raw payload length that follows an IMG_EXTRA entry; `left` bytes
 * of the file follow it. */
static size_t extra_len(const struct img_desc *d, const ProtobufCMessage *m, size_t left)
{
	if (d->msg == &pipe_data_entry__descriptor)
		return ((const PipeDataEntry *)m)->bytes;
	if (m->descriptor == &ghost_file_entry__descriptor)
		return ((const GhostFileEntry *)m)->chunks ? 0 : left;
	if (m->descriptor == &ghost_chunk_entry__descriptor)
		return ((const GhostChunkEntry *)m)->len;
	if (m->descriptor == &sk_packet_entry__descriptor)
		return ((const SkPacketEntry *)m)->length;
	if (m->descriptor == &tcp_stream_entry__descriptor)
		return (size_t)((const TcpStreamEntry *)m)->inq_len + ((const TcpStreamEntry *)m)->outq_len;
	return 0;
}

static int read_entries(struct image *img, size_t off)
{
	const struct img_desc *d = img->desc;
	size_t cap = 0;

	while (off < img->size) {
		const ProtobufCMessageDescriptor *md;
		struct img_entry *e;
		uint32_t len;

		md = (d->flags & IMG_HEAD) && img->nr == 0 ? d->head : d->msg;
		if (img->size - off < sizeof(len))
			return error("%s: entry %zu: truncated length word (%zu bytes left)",
				     img->path, img->nr, img->size - off);
		memcpy(&len, img->data + off, sizeof(len));
		off += sizeof(len);
		if (len > img->size - off)
			return error("%s: entry %zu: length %u is larger than the %zu bytes left in the file",
				     img->path, img->nr, len, img->size - off);
		if (img->nr == cap) {
			cap = cap ? cap * 2 : 16;
			e = realloc(img->entries, cap * sizeof(*e));
			if (!e)
				return error("%s: out of memory", img->path);
			img->entries = e;
		}
		e = &img->entries[img->nr];
		memset(e, 0, sizeof(*e));
		e->msg = protobuf_c_message_unpack(md, NULL, len, img->data + off);
		if (!e->msg)
			return error("%s: entry %zu: cannot decode %u bytes as %s", img->path,
				     img->nr, len, md->name);
		img->nr++;
		off += len;
		if (d->flags & IMG_EXTRA) {
			size_t n = extra_len(d, e->msg, img->size - off);

			if (n > img->size - off)
				return error("%s: entry %zu: payload of %zu bytes runs past the end of the file (%zu left)",
					     img->path, img->nr - 1, n, img->size - off);
			e->extra = img->data + off;
			e->extra_len = n;
			off += n;
		}
	}
	return 0;
}

struct image *image_read(const char *path, const struct img_desc *desc, int must_exist)
{
	struct image *img;
	size_t off = 0;
	int ret;

	img = calloc(1, sizeof(*img));
	if (!img) {
		error("%s: out of memory", path);
		return NULL;
	}
	snprintf(img->path, sizeof(img->path), "%s", path);
	if (!desc) {
		const char *base = strrchr(path, '/');

		desc = img_desc_by_file(base ? base + 1 : path);
		if (!desc) {
			error("%s: not a CRIU image name crstep knows", path);
			goto err;
		}
	}
	img->desc = desc;
	ret = slurp(img);
	if (ret < 0)
		goto err;
	if (ret > 0) {
		if (must_exist) {
			error("%s: missing", path);
			goto err;
		}
		img->missing = 1;
		return img;
	}
	if (desc->flags & IMG_RAW)
		return img;
	if (check_magic(img, &off) || read_entries(img, off))
		goto err;
	return img;
err:
	image_free(img);
	return NULL;
}

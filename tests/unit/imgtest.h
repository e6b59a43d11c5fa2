/* imgtest.h: helpers shared by test_image.c and test_check.c — scratch
 * directories, copies of fixture image directories, stderr capture, and
 * writing an image back from (modified) decoded entries.  The fixtures are
 * only ever read; every corruption happens in a copy. */
#ifndef CRSTEP_IMGTEST_H
#define CRSTEP_IMGTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

#define FIXTURES "tests/fixtures/criu-4.2"
#define UNUSED __attribute__((unused))

/* snprintf into a path buffer; a path that does not fit ends the test. */
#define PATHF(buf, ...) do { \
	if (snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) { \
		fprintf(stderr, "path too long: %s\n", buf); \
		exit(99); \
	} \
} while (0)

static const char *const fixture_names[] = {
	"counter", "tree", "threads", "zombie", "shm", "signals", "fdmix", NULL,
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(99);
	}
	return p;
}

static UNUSED uint8_t *slurp_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		exit(99);
	}
	buf = xmalloc(st.st_size + 1);
	if (read(fd, buf, st.st_size) != st.st_size) {
		perror(path);
		exit(99);
	}
	close(fd);
	buf[st.st_size] = 0;
	*len = st.st_size;
	return buf;
}

static void spew_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd)) {
		perror(path);
		exit(99);
	}
}

static UNUSED char *scratch_dir(void)
{
	char tmpl[] = "/tmp/crstep-unit.XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(99);
	}
	return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static UNUSED void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy every regular file of SRC into DST (created). */
static UNUSED void copy_dir(const char *src, const char *dst)
{
	struct dirent *de;
	DIR *d = opendir(src);

	if (!d || (mkdir(dst, 0755) && errno != EEXIST)) {
		perror(src);
		exit(99);
	}
	while ((de = readdir(d))) {
		char from[600], to[600];
		uint8_t *buf;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		PATHF(from, "%s/%s", src, de->d_name);
		PATHF(to, "%s/%s", dst, de->d_name);
		buf = slurp_file(from, &len);
		spew_file(to, buf, len);
		free(buf);
	}
	closedir(d);
}

/* stderr capture: everything written to fd 2 between the two calls. */
static int capture_saved = -1;
static FILE *capture_file;

static UNUSED void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	capture_saved = dup(2);
	if (!capture_file || capture_saved < 0 || dup2(fileno(capture_file), 2) < 0) {
		perror("capture");
		exit(99);
	}
}

/* Returns the captured text (malloc'ed, NUL-terminated). */
static UNUSED char *capture_end(void)
{
	long n;
	char *buf;

	fflush(stderr);
	dup2(capture_saved, 2);
	close(capture_saved);
	n = lseek(fileno(capture_file), 0, SEEK_END);
	if (n < 0)
		n = 0;
	buf = xmalloc(n + 1);
	if (pread(fileno(capture_file), buf, n, 0) != n)
		n = 0;
	buf[n] = 0;
	fclose(capture_file);
	return buf;
}

static UNUSED int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one line "crstep: PATH: entry N: REASON" with a non-empty reason. */
static UNUSED int is_one_error_line(const char *err, const char *path, size_t entry)
{
	char want[700];
	size_t n;

	if (count_lines(err) != 1 || err[strlen(err) - 1] != '\n')
		return 0;
	n = snprintf(want, sizeof(want), "crstep: %s: entry %zu: ", path, entry);
	if (n >= sizeof(want))
		return 0;
	return !strncmp(err, want, n) && err[n] != '\n' && err[n] != 0;
}

/* Entry boundaries of a good image: bound[i] is where entry i starts,
 * bound[nr] the end of the file. */
static UNUSED size_t *entry_bounds(const struct image *img)
{
	size_t *bound = xmalloc((img->nr + 1) * sizeof(*bound));
	size_t i, off = (img->desc->flags & IMG_NO_COMMON) ? 4 : 8;

	for (i = 0; i < img->nr; i++) {
		uint32_t len;

		bound[i] = off;
		memcpy(&len, img->data + off, 4);
		off += 4 + len + img->entries[i].extra_len;
	}
	bound[img->nr] = off;
	return bound;
}

/* Write IMG back to its path from its decoded entries: the original magic
 * words, then [u32 length][packed message][payload] for each entry, so a
 * test can change a decoded message and re-frame the file. */
static UNUSED void image_write_back(const struct image *img)
{
	size_t magic = (img->desc->flags & IMG_NO_COMMON) ? 4 : 8, i, off;
	size_t cap = magic;
	uint8_t *buf;

	for (i = 0; i < img->nr; i++)
		cap += 4 + protobuf_c_message_get_packed_size(img->entries[i].msg) + img->entries[i].extra_len;
	buf = xmalloc(cap);
	memcpy(buf, img->data, magic);
	off = magic;
	for (i = 0; i < img->nr; i++) {
		uint32_t len = protobuf_c_message_get_packed_size(img->entries[i].msg);

		memcpy(buf + off, &len, 4);
		off += 4;
		off += protobuf_c_message_pack(img->entries[i].msg, buf + off);
		if (img->entries[i].extra_len)
			memcpy(buf + off, img->entries[i].extra, img->entries[i].extra_len);
		off += img->entries[i].extra_len;
	}
	spew_file(img->path, buf, off);
	free(buf);
}

#endif

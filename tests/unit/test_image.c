/* test_image.c: the image reader.  Every fixture image reads with the entry
 * count crit printed for it; copies cut at every entry boundary read as
 * shorter valid images; copies cut inside an entry, with a wrong magic, a
 * huge length word, an undecodable message or a payload past the end are
 * refused with NULL and exactly one line "crstep: FILE: entry N: reason". */
#include "tap.h"
#include "imgtest.h"
#include "log.h"

static char *scratch;
static unsigned rng_state = 12345;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 16;
}

/* The number of entries crit printed: its JSON is indented by 4, so each
 * entry opens a line with exactly 8 spaces and "{" ("{}" when empty). */
static long crit_entries(const char *fixture, const char *base)
{
	char path[600], name[256], *p;
	uint8_t *json;
	size_t len;
	long n = 0;
	struct stat st;

	PATHF(name, "%s", base);
	p = strstr(name, ".img");
	if (p)
		*p = 0;
	PATHF(path, "%s/%s/crit/%s.json", FIXTURES, fixture, name);
	if (stat(path, &st))
		return -1;
	json = slurp_file(path, &len);
	for (p = (char *)json; (p = strstr(p, "\n        {")); p++)
		n += p[10] == '\n' || p[10] == '}';
	if (strstr((char *)json, "\"entries\": []"))
		n = 0;
	free(json);
	return n;
}

/* Read PATH expecting success with NR entries and nothing on stderr. */
static int read_ok(const char *path, size_t nr, char **why)
{
	struct image *img;
	char *err;
	int good;

	capture_begin();
	img = image_read(path, NULL, 1);
	err = capture_end();
	good = img && img->nr == nr && !*err;
	if (!good && why && !*why) {
		*why = xmalloc(1024);
		snprintf(*why, 1024, "%s: got %s with %zu entries, want %zu; stderr: %s", path,
			 img ? "an image" : "NULL", img ? img->nr : 0, nr, err);
	}
	image_free(img);
	free(err);
	return good;
}

/* Read PATH expecting NULL and one error line naming PATH and ENTRY. */
static int read_fails(const char *path, size_t entry, char **why)
{
	struct image *img;
	char *err;
	int good;

	capture_begin();
	img = image_read(path, NULL, 1);
	err = capture_end();
	good = !img && is_one_error_line(err, path, entry);
	if (!good && why && !*why) {
		*why = xmalloc(1024);
		snprintf(*why, 1024, "%s: want NULL and one line for entry %zu, got %s; stderr: %s",
			 path, entry, img ? "an image" : "NULL", err);
	}
	image_free(img);
	free(err);
	return good;
}

static void report(int good, char *why, const char *fmt, const char *a, const char *b)
{
	char desc[512];

	PATHF(desc, fmt, a, b);
	if (!ok(good, "%s", desc) && why)
		diag("%s", why);
	free(why);
}

static void test_cuts(const char *fx, const char *base, const struct image *img)
{
	char path[600];
	size_t *bound = entry_bounds(img), i, magic = bound[0];
	char *why = NULL;
	int good = 1, cuts = 0;

	PATHF(path, "%s/%s", scratch, base);
	/* At each boundary: a valid image with that many entries. */
	for (i = 0; i <= img->nr; i++) {
		spew_file(path, img->data, bound[i]);
		good &= read_ok(path, i, &why);
	}
	report(good && bound[img->nr] == img->size, why,
	       "%s/%s: cut at every entry boundary reads as that many entries", fx, base);

	/* Inside the magic, the length word, the message and the payload. */
	why = NULL;
	good = 1;
	for (i = 0; i < magic; i += 3, cuts++) {
		spew_file(path, img->data, i);
		good &= read_fails(path, 0, &why);
	}
	for (i = 0; i < img->nr; i++) {
		size_t at[6] = { 1, 3 }, k, nat = 2;
		size_t msg = bound[i + 1] - bound[i] - 4 - img->entries[i].extra_len;

		if (msg) {
			at[nat++] = 4;			/* the message is missing */
			at[nat++] = 4 + msg / 2;
			at[nat++] = 4 + msg - 1;
		}
		if (img->entries[i].extra_len)
			at[nat++] = 4 + msg + img->entries[i].extra_len / 2;
		for (k = 0; k < nat; k++, cuts++) {
			spew_file(path, img->data, bound[i] + at[k]);
			good &= read_fails(path, i, &why);
		}
	}
	report(good, why, "%s/%s: every cut inside the magic or an entry fails with one line", fx, base);
	free(bound);
}

static void test_magic(const char *fx, const char *base, const struct image *img)
{
	char path[600];
	uint8_t *copy = xmalloc(img->size);
	char *why = NULL;
	int good = 1;

	PATHF(path, "%s/%s", scratch, base);
	memcpy(copy, img->data, img->size);
	copy[0] ^= 0x5a;
	spew_file(path, copy, img->size);
	good &= read_fails(path, 0, &why);
	if (!(img->desc->flags & IMG_NO_COMMON)) {
		memcpy(copy, img->data, img->size);
		copy[5] ^= 0x5a;
		spew_file(path, copy, img->size);
		good &= read_fails(path, 0, &why);
	}
	report(good, why, "%s/%s: a wrong first or type magic fails at entry 0", fx, base);
	free(copy);
}

/* Length words 0xffffffff and one more than the bytes left, at the first
 * and the last entry. */
static void test_huge_length(const char *fx, const char *base, const struct image *img)
{
	size_t *bound = entry_bounds(img), pick[2] = { 0, img->nr - 1 }, k;
	uint8_t *copy = xmalloc(img->size);
	char path[600], *why = NULL;
	int good = 1;

	PATHF(path, "%s/%s", scratch, base);
	for (k = 0; k < 2 && img->nr; k++) {
		uint32_t lens[2] = { 0xffffffffu, img->size - bound[pick[k]] - 4 + 1 }, j;

		for (j = 0; j < 2; j++) {
			memcpy(copy, img->data, img->size);
			memcpy(copy + bound[pick[k]], &lens[j], 4);
			spew_file(path, copy, img->size);
			good &= read_fails(path, pick[k], &why);
		}
	}
	report(good, why, "%s/%s: a length word of 0xffffffff or past the end fails", fx, base);
	free(copy);
	free(bound);
}

/* Fill BUF with random bytes that do not unpack as MD. */
static void garble(const ProtobufCMessageDescriptor *md, uint8_t *buf, size_t len)
{
	for (;;) {
		ProtobufCMessage *m;
		size_t j;

		for (j = 0; j < len; j++)
			buf[j] = rng();
		m = protobuf_c_message_unpack(md, NULL, len, buf);
		if (!m)
			return;
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

/* Random bytes with a valid length: the last entry garbled in place (when
 * it is long enough), and a file of the magic and one 16-byte entry. */
static void test_garbage(const char *fx, const char *base, const struct image *img)
{
	size_t *bound = entry_bounds(img), last = img->nr - 1;
	const struct img_desc *d = img->desc;
	uint8_t *copy = xmalloc(img->size + 32);
	char path[600], *why = NULL;
	int good = 1;

	PATHF(path, "%s/%s", scratch, base);
	if (img->nr) {
		size_t msg = bound[last + 1] - bound[last] - 4 - img->entries[last].extra_len;

		if (msg >= 4) {
			memcpy(copy, img->data, img->size);
			garble((d->flags & IMG_HEAD) && !last ? d->head : d->msg, copy + bound[last] + 4, msg);
			spew_file(path, copy, img->size);
			good &= read_fails(path, last, &why);
		}
	}
	memcpy(copy, img->data, bound[0]);
	memcpy(copy + bound[0], &(uint32_t){ 16 }, 4);
	garble(d->flags & IMG_HEAD ? d->head : d->msg, copy + bound[0] + 4, 16);
	spew_file(path, copy, bound[0] + 20);
	good &= read_fails(path, 0, &why);
	report(good, why, "%s/%s: random bytes that do not decode fail at their entry", fx, base);
	free(copy);
	free(bound);
}

static void test_fixture_images(const char *fx)
{
	char dir[512], path[800];
	struct dirent *de;
	DIR *d;

	PATHF(dir, "%s/%s/images", FIXTURES, fx);
	d = opendir(dir);
	if (!ok(d != NULL, "%s: images directory opens", fx))
		return;
	while ((de = readdir(d))) {
		struct image *img;
		long want;
		char *err;

		if (de->d_name[0] == '.')
			continue;
		PATHF(path, "%s/%s", dir, de->d_name);
		capture_begin();
		img = image_read(path, NULL, 1);
		err = capture_end();
		if (!ok(img && !*err, "%s/%s reads", fx, de->d_name)) {
			diag("stderr: %s", err);
			free(err);
			image_free(img);
			continue;
		}
		free(err);
		if (img->desc->flags & IMG_RAW) {
			struct stat st;

			stat(path, &st);
			ok(img->nr == 0 && img->size == (size_t)st.st_size && st.st_size % 4096 == 0,
			   "%s/%s: raw pages, %zu bytes", fx, de->d_name, img->size);
			image_free(img);
			continue;
		}
		want = crit_entries(fx, de->d_name);
		ok(want >= 0 && img->nr == (size_t)want, "%s/%s: %zu entries, crit has %ld",
		   fx, de->d_name, img->nr, want);
		test_cuts(fx, de->d_name, img);
		test_magic(fx, de->d_name, img);
		if (img->nr)
			test_huge_length(fx, de->d_name, img);
		test_garbage(fx, de->d_name, img);
		image_free(img);
	}
	closedir(d);
}

/* A core file named mm-*.img, an mm named core-*, a pstree named inventory:
 * the type magic disagrees with the name. */
static void test_renamed(void)
{
	static const struct { const char *from, *to; } cases[] = {
		{ "core-30100.img", "mm-30100.img" },
		{ "mm-30100.img", "core-30100.img" },
		{ "pstree.img", "inventory.img" },
		{ "inventory.img", "pstree.img" },
		{ "pagemap-30100.img", "fdinfo-2.img" },
		{ "files.img", "pipes-data.img" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char from[600], to[600], *why = NULL;
		uint8_t *buf;
		size_t len;

		PATHF(from, "%s/counter/images/%s", FIXTURES, cases[i].from);
		PATHF(to, "%s/%s", scratch, cases[i].to);
		buf = slurp_file(from, &len);
		spew_file(to, buf, len);
		free(buf);
		report(read_fails(to, 0, &why), why, "%s renamed %s fails at entry 0", cases[i].from, cases[i].to);
	}
}

/* pipes-data whose `bytes` promises more payload than the file holds. */
static void test_pipe_payload(const char *fx)
{
	char path[600], *why = NULL;
	uint32_t more[] = { 1, 4096, 0xffffffffu };
	struct image *img;
	size_t k;
	int good = 1;

	PATHF(path, "%s/%s/images/pipes-data.img", FIXTURES, fx);
	img = image_read(path, NULL, 1);
	if (!ok(img && img->nr == 1, "%s: pipes-data.img reads one entry", fx)) {
		image_free(img);
		return;
	}
	for (k = 0; k < 3; k++) {
		PipeDataEntry *pd = (PipeDataEntry *)img->entries[0].msg;
		uint32_t saved = pd->bytes;

		pd->bytes = more[k] == 0xffffffffu ? more[k] : saved + more[k];
		snprintf(img->path, sizeof(img->path), "%s/pipes-data.img", scratch);
		image_write_back(img);
		pd->bytes = saved;
		good &= read_fails(img->path, 0, &why);
	}
	report(good, why, "%s: %s", fx, "a pipes-data payload running past the end fails at entry 0");
	image_free(img);
}

static void test_pipe_contents(void)
{
	static const struct { const char *fx, *data; } cases[] = {
		{ "tree", "12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n" },
		{ "fdmix", "p00000024\n" },
	};
	size_t i;

	for (i = 0; i < 2; i++) {
		char path[600];
		struct image *img;
		size_t n = strlen(cases[i].data);

		PATHF(path, "%s/%s/images/pipes-data.img", FIXTURES, cases[i].fx);
		img = image_read(path, NULL, 1);
		ok(img && img->nr == 1 && img->entries[0].extra_len == n &&
		   !memcmp(img->entries[0].extra, cases[i].data, n),
		   "%s: pipes-data payload is the %zu unread bytes", cases[i].fx, n);
		image_free(img);
	}
}

/* Missing files, directories, files with names crstep does not know. */
static void test_odd_paths(void)
{
	char path[600], *err;
	struct image *img;

	PATHF(path, "%s/core-1.img", scratch);
	unlink(path);
	capture_begin();
	img = image_read(path, NULL, 1);
	err = capture_end();
	ok(!img && count_lines(err) == 1 && strstr(err, path) && strstr(err, "missing"),
	   "a missing image that must exist fails with one line");
	free(err);

	capture_begin();
	img = image_read(path, NULL, 0);
	err = capture_end();
	ok(img && img->missing && img->nr == 0 && !*err, "a missing optional image reads as empty");
	image_free(img);
	free(err);

	PATHF(path, "%s/fs-1.img", scratch);
	mkdir(path, 0755);
	capture_begin();
	img = image_read(path, NULL, 1);
	err = capture_end();
	ok(!img && count_lines(err) == 1 && strstr(err, path), "a directory fails with one line");
	image_free(img);
	free(err);
	rmdir(path);

	PATHF(path, "%s/whatever.img", scratch);
	spew_file(path, "x", 1);
	capture_begin();
	img = image_read(path, NULL, 1);
	err = capture_end();
	ok(!img && count_lines(err) == 1 && strstr(err, path), "an unknown name fails with one line");
	image_free(img);
	free(err);
	unlink(path);
}

/* imgset_read: the whole directory, with the tasks the README lists. */
static void test_imgset_good(void)
{
	static const struct { const char *fx; size_t tasks, threads0, zombies, fdinfos; } cases[] = {
		{ "counter", 1, 1, 0, 1 }, { "tree", 3, 1, 0, 3 }, { "threads", 1, 4, 0, 1 },
		{ "zombie", 2, 1, 1, 1 }, { "shm", 2, 1, 0, 2 }, { "signals", 1, 1, 0, 1 },
		{ "fdmix", 1, 1, 0, 1 },
	};
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[512], *err;
		struct img_set *set;
		size_t zombies = 0;

		PATHF(dir, "%s/%s/images", FIXTURES, cases[i].fx);
		capture_begin();
		set = imgset_read(dir);
		err = capture_end();
		if (!ok(set && !*err, "%s: imgset_read", cases[i].fx)) {
			diag("%s", err);
			free(err);
			continue;
		}
		for (j = 0; j < set->nr_tasks; j++)
			zombies += set->tasks[j].zombie;
		ok(set->nr_tasks == cases[i].tasks && set->tasks[0].nr_threads == cases[i].threads0 &&
		   zombies == cases[i].zombies && set->nr_fdinfo_imgs == cases[i].fdinfos &&
		   set->tasks[0].pstree->ppid == 0 && set->nr_files > 0,
		   "%s: %zu tasks, %zu threads in the root, %zu zombies, %zu fdinfo images",
		   cases[i].fx, set->nr_tasks, set->tasks[0].nr_threads, zombies, set->nr_fdinfo_imgs);
		imgset_free(set);
		free(err);
	}
}

/* imgset_read of a copy where one image is cut inside its first entry:
 * NULL, and exactly one line, naming that image. */
static void test_imgset_broken(const char *fx)
{
	char src[512], dir[600];
	struct dirent *de;
	DIR *d;
	int good = 1, n = 0;
	char *why = NULL;

	PATHF(src, "%s/%s/images", FIXTURES, fx);
	PATHF(dir, "%s/set-%s", scratch, fx);
	d = opendir(src);
	while (d && (de = readdir(d))) {
		char path[900], orig[900], *err;
		struct img_set *set;
		uint8_t *buf;
		size_t len, magic;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "pages-", 6) ||
		    !strncmp(de->d_name, "stats-", 6) || !strncmp(de->d_name, "pagemap-shmem-", 14))
			continue;	/* imgset_read does not read these */
		copy_dir(src, dir);
		PATHF(orig, "%s/%s", src, de->d_name);
		PATHF(path, "%s/%s", dir, de->d_name);
		buf = slurp_file(orig, &len);
		magic = strcmp(de->d_name, "inventory.img") ? 8 : 4;
		spew_file(path, buf, magic + 2);	/* inside entry 0's length */
		free(buf);
		capture_begin();
		set = imgset_read(dir);
		err = capture_end();
		n++;
		if (set || !is_one_error_line(err, path, 0)) {
			good = 0;
			if (!why) {
				why = xmalloc(1200);
				snprintf(why, 1200, "%s: got %s; stderr: %s", path, set ? "a set" : "NULL", err);
			}
		}
		imgset_free(set);
		free(err);
		rm_rf(dir);
	}
	if (d)
		closedir(d);
	report(good && n > 5, why, "%s: %s", fx, "each image cut inside entry 0 makes imgset_read fail with one line naming it");
}

int main(void)
{
	const char *const *fx;

	scratch = scratch_dir();
	for (fx = fixture_names; *fx; fx++)
		test_fixture_images(*fx);
	test_renamed();
	test_pipe_payload("tree");
	test_pipe_payload("fdmix");
	test_pipe_contents();
	test_odd_paths();
	test_imgset_good();
	for (fx = fixture_names; *fx; fx++)
		test_imgset_broken(*fx);
	rm_rf(scratch);
	free(scratch);
	return done_testing();
}

/* test_check.c: imgset_check().  It accepts every fixture and rejects sets
 * where one image was rewritten to contradict the others: each crafted
 * fault gives exactly one line naming the image, the entry and the task.
 * The sets are copies of the fixtures in a scratch directory; the images
 * are changed by decoding, editing and re-packing their messages. */
#include "tap.h"
#include "imgtest.h"
#include "log.h"

static char *scratch;

/* A fresh copy of fixture FX's images. */
static char *copy_fixture(const char *fx)
{
	static int n;
	char src[512], *dir = xmalloc(600);

	snprintf(src, sizeof(src), "%s/%s/images", FIXTURES, fx);
	snprintf(dir, 600, "%s/%s-%d", scratch, fx, n++);
	copy_dir(src, dir);
	return dir;
}

static struct image *open_img(const char *dir, const char *name)
{
	char path[700];
	struct image *img;

	PATHF(path, "%s/%s", dir, name);
	img = image_read(path, NULL, 1);
	if (!img) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(99);
	}
	return img;
}

static void save_img(struct image *img)
{
	image_write_back(img);
	image_free(img);
}

/* Read and check DIR: returns 1 when it was refused, with the stderr text
 * in *err. */
static int refused(const char *dir, char **err)
{
	struct img_set *set;
	int ret = -1;

	capture_begin();
	set = imgset_read(dir);
	if (set)
		ret = imgset_check(set);
	*err = capture_end();
	imgset_free(set);
	return ret < 0;
}

/* Every line is "crstep: FILE: entry N: ..." */
static int lines_well_formed(const char *err)
{
	const char *l = err, *e;

	while (*l) {
		e = strchr(l, '\n');
		if (!e || strncmp(l, "crstep: ", 8) || !memmem(l, e - l, ": entry ", 8))
			return 0;
		l = e + 1;
	}
	return 1;
}

/* Every line is "crstep: DIR/...": it names an image of the set.  (Some of
 * imgset_read()'s lines name no entry: "ids-1.img: missing, and ...".) */
static int lines_name_a_file(const char *err, const char *dir)
{
	const char *l = err, *e;
	size_t n = strlen(dir);

	while (*l) {
		e = strchr(l, '\n');
		if (!e || strncmp(l, "crstep: ", 8) || strncmp(l + 8, dir, n) || l[8 + n] != '/')
			return 0;
		l = e + 1;
	}
	return 1;
}

/* DIR is refused with exactly NLINES lines (0: at least one), the first
 * naming DIR/FILE, entry ENTRY and (when PID) the task; DIR is removed. */
static void expect_refused(char *dir, int nlines, const char *file, long entry, unsigned pid,
			   const char *desc)
{
	char want[800], *err, *first_end;
	int good;

	good = refused(dir, &err);
	good &= nlines ? count_lines(err) == nlines : count_lines(err) >= 1;
	/* The reader's "FILE: missing" has no entry to name. */
	good &= entry < 0 || lines_well_formed(err);
	first_end = strchr(err, '\n');
	if (first_end)
		*first_end = 0;
	snprintf(want, sizeof(want), *file ? "crstep: %s/%s: " : "crstep: %s/", dir, file);
	good &= !strncmp(err, want, strlen(want));
	if (entry >= 0) {
		snprintf(want, sizeof(want), ": entry %ld: ", entry);
		good &= strstr(err, want) != NULL;
	}
	if (pid) {
		snprintf(want, sizeof(want), "task %u", pid);
		good &= strstr(err, want) != NULL;
	}
	if (first_end)
		*first_end = '\n';
	if (!ok(good, "%s", desc))
		diag("stderr: %s", err);
	else
		diag("%.*s", (int)strcspn(err, "\n"), err);
	free(err);
	rm_rf(dir);
	free(dir);
}

static void test_fixtures_pass(void)
{
	const char *const *fx;

	for (fx = fixture_names; *fx; fx++) {
		char dir[512], *err;

		snprintf(dir, sizeof(dir), "%s/%s/images", FIXTURES, *fx);
		if (!ok(!refused(dir, &err) && !*err, "%s: consistent", *fx))
			diag("stderr: %s", err);
		free(err);
	}
}

static MmEntry *mm_of(struct image *img)
{
	return (MmEntry *)img->entries[0].msg;
}

static void test_vmas(void)
{
	struct image *img;
	VmaEntry *v;
	char *dir;

	dir = copy_fixture("counter");
	img = open_img(dir, "mm-30100.img");
	mm_of(img)->vmas[4]->end = mm_of(img)->vmas[5]->start + 0x1000;
	save_img(img);
	expect_refused(dir, 1, "mm-30100.img", 0, 30100, "overlapping VMAs");

	dir = copy_fixture("counter");
	img = open_img(dir, "mm-30100.img");
	v = mm_of(img)->vmas[1];
	mm_of(img)->vmas[1] = mm_of(img)->vmas[2];
	mm_of(img)->vmas[2] = v;
	save_img(img);
	expect_refused(dir, 1, "mm-30100.img", 0, 30100, "unsorted VMAs");

	dir = copy_fixture("threads");
	img = open_img(dir, "mm-30300.img");
	v = mm_of(img)->vmas[7];	/* a PROT_NONE guard page */
	v->end = v->start;
	save_img(img);
	expect_refused(dir, 1, "mm-30300.img", 0, 30300, "an empty VMA");

	dir = copy_fixture("signals");
	img = open_img(dir, "mm-30600.img");
	mm_of(img)->vmas[7]->end -= 0x800;	/* the sigaltstack */
	save_img(img);
	expect_refused(dir, 1, "mm-30600.img", 0, 30600, "a VMA end not page aligned");
}

static PagemapEntry *pe_of(struct image *img, size_t i)
{
	return (PagemapEntry *)img->entries[i].msg;
}

static void test_pagemap(void)
{
	struct image *img;
	ProtobufCMessage *m;
	char *dir;

	dir = copy_fixture("counter");
	img = open_img(dir, "pagemap-30100.img");
	pe_of(img, 4)->vaddr = 0x4b0000;	/* between the bss and the heap */
	save_img(img);
	expect_refused(dir, 1, "pagemap-30100.img", 4, 30100, "a pagemap entry outside any VMA");

	dir = copy_fixture("shm");
	img = open_img(dir, "pagemap-30501.img");
	pe_of(img, 5)->vaddr = 0x7f56c13d7000;	/* the MAP_SHARED data.bin */
	save_img(img);
	expect_refused(dir, 1, "pagemap-30501.img", 5, 30501, "a pagemap entry in a shared file VMA");

	dir = copy_fixture("counter");
	img = open_img(dir, "pagemap-30100.img");
	pe_of(img, 6)->nr_pages = 3;	/* the stack, one page past its end */
	pe_of(img, 5)->nr_pages = 1;	/* ... keeping the pages file's size */
	save_img(img);
	expect_refused(dir, 1, "pagemap-30100.img", 6, 30100, "a pagemap entry running past its VMA");

	dir = copy_fixture("counter");
	img = open_img(dir, "pagemap-30100.img");
	m = img->entries[3].msg;
	img->entries[3].msg = img->entries[4].msg;
	img->entries[4].msg = m;
	save_img(img);
	expect_refused(dir, 1, "pagemap-30100.img", 4, 30100, "unsorted pagemap entries");

	dir = copy_fixture("counter");
	img = open_img(dir, "pagemap-30100.img");
	pe_of(img, 3)->vaddr += 0x800;
	save_img(img);
	expect_refused(dir, 1, "pagemap-30100.img", 3, 30100, "a pagemap entry not page aligned");

	/* The shm fixture's 252+4 entries over one VMA and the 0x4a2000
	 * entry over two adjacent file VMAs pass (test_fixtures_pass). */
}

static void test_pages_file(void)
{
	char *dir, path[700];
	uint8_t *buf;
	size_t len;

	dir = copy_fixture("counter");
	PATHF(path, "%s/pages-1.img", dir);
	buf = slurp_file(path, &len);
	spew_file(path, buf, len - 4096);
	expect_refused(dir, 1, "pagemap-30100.img", 0, 30100, "a pages file cut short");

	dir = copy_fixture("tree");
	PATHF(path, "%s/pages-2.img", dir);
	unlink(path);
	expect_refused(dir, 1, "pagemap-30201.img", 0, 30201, "a pages file missing");

	dir = copy_fixture("counter");
	PATHF(path, "%s/pages-1.img", dir);
	spew_file(path, buf, len);
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		if (write(fd, buf, 4096) != 4096)
			exit(99);
		close(fd);
	}
	expect_refused(dir, 1, "pagemap-30100.img", 7, 30100, "a pages file longer than its pagemap");
	free(buf);
}

static FdinfoEntry *fdi_of(struct image *img, size_t i)
{
	return (FdinfoEntry *)img->entries[i].msg;
}

static void test_fds(void)
{
	struct image *img;
	char *dir;

	dir = copy_fixture("counter");
	img = open_img(dir, "fdinfo-2.img");
	fdi_of(img, 3)->id = 9999;
	save_img(img);
	expect_refused(dir, 1, "fdinfo-2.img", 3, 30100, "an fd whose file id is missing");

	dir = copy_fixture("fdmix");
	img = open_img(dir, "fdinfo-2.img");
	fdi_of(img, 1)->type = FD_TYPES__PIPE;
	save_img(img);
	expect_refused(dir, 1, "fdinfo-2.img", 1, 30700, "an fd whose type differs from its file's");

	dir = copy_fixture("tree");
	img = open_img(dir, "fdinfo-4.img");
	fdi_of(img, 2)->fd = fdi_of(img, 0)->fd;
	save_img(img);
	expect_refused(dir, 1, "fdinfo-4.img", 2, 30202, "two fds with one number");
}

static void test_tree(void)
{
	struct image *img;
	PstreeEntry *pe;
	char *dir, path[700];

	/* A pstree pid with no core: the reader refuses it. */
	dir = copy_fixture("tree");
	PATHF(path, "%s/core-30202.img", dir);
	unlink(path);
	expect_refused(dir, 1, "core-30202.img", -1, 0, "a pstree pid with no core");

	dir = copy_fixture("threads");
	PATHF(path, "%s/core-30302.img", dir);
	unlink(path);
	expect_refused(dir, 1, "core-30302.img", -1, 0, "a thread with no core");

	dir = copy_fixture("tree");
	img = open_img(dir, "pstree.img");
	((PstreeEntry *)img->entries[0].msg)->ppid = 1;
	save_img(img);
	expect_refused(dir, 1, "pstree.img", 0, 30200, "a root with a parent");

	dir = copy_fixture("tree");
	img = open_img(dir, "pstree.img");
	((PstreeEntry *)img->entries[2].msg)->ppid = 4242;
	save_img(img);
	expect_refused(dir, 1, "pstree.img", 2, 30202, "a parent not in the tree");

	dir = copy_fixture("threads");
	img = open_img(dir, "pstree.img");
	pe = (PstreeEntry *)img->entries[0].msg;
	pe->threads[3] = pe->threads[1];
	save_img(img);
	/* ... and core-30303.img is now a stray */
	expect_refused(dir, 2, "pstree.img", 0, 30300, "a tid listed twice");

	/* pstree cut at an entry boundary is a valid shorter image; the
	 * images of the lost task give it away. */
	dir = copy_fixture("tree");
	img = open_img(dir, "pstree.img");
	img->nr--;
	protobuf_c_message_free_unpacked(img->entries[img->nr].msg, NULL);
	save_img(img);
	expect_refused(dir, 2, "", 0, 0, "pstree.img cut at an entry boundary");
}

static CoreEntry *core_of(struct image *img)
{
	return (CoreEntry *)img->entries[0].msg;
}

static void test_cores(void)
{
	struct image *img;
	char *dir, from[700], to[700];
	uint8_t *buf;
	size_t len;

	dir = copy_fixture("threads");
	PATHF(from, "%s/core-30300.img", dir);
	PATHF(to, "%s/core-30301.img", dir);
	buf = slurp_file(from, &len);
	spew_file(to, buf, len);
	free(buf);
	expect_refused(dir, 1, "core-30301.img", 0, 30300, "a non-leader thread with a task_core");

	dir = copy_fixture("threads");
	img = open_img(dir, "core-30302.img");
	protobuf_c_message_free_unpacked(&core_of(img)->thread_core->base, NULL);
	core_of(img)->thread_core = NULL;
	save_img(img);
	expect_refused(dir, 1, "core-30302.img", 0, 30300, "a thread without thread_core");

	dir = copy_fixture("zombie");
	img = open_img(dir, "core-30401.img");
	core_of(img)->mtype = CORE_ENTRY__MARCH__AARCH64;
	save_img(img);
	expect_refused(dir, 1, "core-30401.img", 0, 30401, "a core of another architecture");
}

static void test_inventory(void)
{
	struct image *img;
	char *dir;

	dir = copy_fixture("counter");
	img = open_img(dir, "inventory.img");
	((InventoryEntry *)img->entries[0].msg)->img_version = 1;
	save_img(img);
	expect_refused(dir, 1, "inventory.img", 0, 0, "img_version 1");

	dir = copy_fixture("counter");
	img = open_img(dir, "inventory.img");
	((InventoryEntry *)img->entries[0].msg)->fdinfo_per_id = 0;
	save_img(img);
	expect_refused(dir, 1, "inventory.img", 0, 0, "no fdinfo_per_id");
}

static uint32_t file_of_type(const char *dir, int type)
{
	struct image *img = open_img(dir, "files.img");
	uint32_t id = 0;
	size_t i;

	for (i = 0; i < img->nr && !id; i++)
		if ((int)((FileEntry *)img->entries[i].msg)->type == type)
			id = ((FileEntry *)img->entries[i].msg)->id;
	image_free(img);
	return id;
}

static void test_file_refs(void)
{
	struct image *img;
	char *dir;

	dir = copy_fixture("counter");
	img = open_img(dir, "mm-30100.img");
	mm_of(img)->exe_file_id = 9999;
	save_img(img);
	expect_refused(dir, 1, "mm-30100.img", 0, 30100, "a missing exe file id");

	dir = copy_fixture("tree");
	img = open_img(dir, "mm-30201.img");
	mm_of(img)->exe_file_id = file_of_type(dir, FD_TYPES__PIPE);
	save_img(img);
	expect_refused(dir, 1, "mm-30201.img", 0, 30201, "an exe that is a pipe");

	dir = copy_fixture("counter");
	img = open_img(dir, "mm-30100.img");
	mm_of(img)->vmas[2]->shmid = 9999;
	save_img(img);
	expect_refused(dir, 1, "mm-30100.img", 0, 30100, "a file VMA with a missing file id");

	dir = copy_fixture("shm");
	img = open_img(dir, "mm-30500.img");
	mm_of(img)->vmas[9]->shmid = mm_of(img)->exe_file_id;
	save_img(img);
	expect_refused(dir, 1, "mm-30500.img", 0, 30500, "a memfd VMA on a regular file");

	dir = copy_fixture("shm");
	img = open_img(dir, "memfd.img");
	((MemfdInodeEntry *)img->entries[0].msg)->inode_id = 77;
	save_img(img);
	expect_refused(dir, 2, "mm-30500.img", 0, 30500, "a memfd VMA whose inode memfd.img lacks");

	dir = copy_fixture("fdmix");
	img = open_img(dir, "fs-30700.img");
	((FsEntry *)img->entries[0].msg)->cwd_id = 9999;
	save_img(img);
	expect_refused(dir, 1, "fs-30700.img", 0, 30700, "a missing cwd");

	dir = copy_fixture("fdmix");
	img = open_img(dir, "pipes-data.img");
	((PipeDataEntry *)img->entries[0].msg)->pipe_id = 424242;
	save_img(img);
	expect_refused(dir, 1, "pipes-data.img", 0, 0, "pipe data of no pipe");
}

/* Each image cut at each entry boundary short of its end: a valid shorter
 * image for the reader, so the reader or the check must notice what is
 * lost.  Only the images whose trailing entries can go without a trace
 * (an fd, pipe data, the seccomp and timens entries) may pass. */
static int may_lose_entries(const char *name)
{
	return !strncmp(name, "fdinfo-", 7) || !strcmp(name, "pipes-data.img") ||
	       !strcmp(name, "seccomp.img") || !strcmp(name, "timens-0.img");
}

static void test_boundary_cuts(const char *fx)
{
	char src[512], orig[800];
	struct dirent *de;
	DIR *d;

	snprintf(src, sizeof(src), "%s/%s/images", FIXTURES, fx);
	d = opendir(src);
	while (d && (de = readdir(d))) {
		struct image *img;
		size_t *bound, i, noticed = 0;
		int well_formed = 1;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "pages-", 6) ||
		    !strncmp(de->d_name, "stats-", 6) || !strncmp(de->d_name, "pagemap-shmem-", 14))
			continue;
		PATHF(orig, "%s/%s", src, de->d_name);
		img = image_read(orig, NULL, 1);
		bound = entry_bounds(img);
		for (i = 0; i < img->nr; i++) {
			char *dir = copy_fixture(fx), path[900], *err;

			PATHF(path, "%s/%s", dir, de->d_name);
			spew_file(path, img->data, bound[i]);
			noticed += refused(dir, &err);
			well_formed &= lines_name_a_file(err, dir);
			free(err);
			rm_rf(dir);
			free(dir);
		}
		if (may_lose_entries(de->d_name))
			ok(well_formed, "%s/%s: %zu of %zu boundary cuts noticed (may pass)", fx,
			   de->d_name, noticed, img->nr);
		else
			ok(well_formed && noticed == img->nr, "%s/%s: all %zu boundary cuts refused (%zu)",
			   fx, de->d_name, img->nr, noticed);
		free(bound);
		image_free(img);
	}
	if (d)
		closedir(d);
}

int main(void)
{
	const char *const *fx;

	scratch = scratch_dir();
	test_fixtures_pass();
	test_vmas();
	test_pagemap();
	test_pages_file();
	test_fds();
	test_tree();
	test_cores();
	test_inventory();
	test_file_refs();
	for (fx = fixture_names; *fx; fx++)
		test_boundary_cuts(*fx);
	rm_rf(scratch);
	free(scratch);
	return done_testing();
}

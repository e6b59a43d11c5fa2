/* fuzz_check.c: a whole image directory, read (images/imgset.c), checked
 * (images/check.c), then the checks a restore makes before it forks
 * (restore/features.c: what crstep cannot restore, the participant
 * counts), and `crstep show --tree` over the same directory.
 *
 * Input: the directory as a sequence of files, each
 *	u8 name_len, name[name_len], u32 size (little endian), then size bytes
 * The name is a plain file name ("pstree.img", "core-30100.img"); a name
 * with '/' or a leading '.', or a repeated one, drops that file.  A
 * pages-*.img file takes no bytes from the input: the check only stats
 * it, so its size is the file's size (a sparse file), which keeps the
 * inputs small.  A truncated last file gets what is left. */
#include "fuzz.h"
#include "restore.h"
#include "ui.h"

#define MAX_FILES 64
#define MAX_PAGES_SIZE (1u << 30)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

static int valid_name(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
}

/* The files of the last input, removed when the next does not have them
 * (rewriting a file in place is cheaper than removing and creating it). */
static char names[MAX_FILES][256], old_names[MAX_FILES][256];
static int nr_names, nr_old_names;

static int has_name(char list[][256], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return 1;
	return 0;
}

/* Unpack the input into the scratch directory. */
static void unpack(const uint8_t *data, size_t size)
{
	char name[256], path[512];
	size_t off = 0;
	int nr = 0, i;

	memcpy(old_names, names, sizeof(names[0]) * nr_names);
	nr_old_names = nr_names;
	nr_names = 0;
	while (off < size && nr++ < MAX_FILES) {
		size_t name_len = data[off++], len;
		uint32_t file_size = 0;

		if (name_len > size - off)
			name_len = size - off;
		memcpy(name, data + off, name_len);
		name[name_len] = 0;
		off += name_len;
		if (size - off >= 4)
			memcpy(&file_size, data + off, 4);
		off += size - off >= 4 ? 4 : size - off;
		if (!strncmp(name, "pages-", 6)) {
			len = 0;
		} else {
			len = file_size < size - off ? file_size : size - off;
			off += len;
		}
		if (!valid_name(name) || strlen(name) != name_len || has_name(names, nr_names, name))
			continue;
		strcpy(names[nr_names++], name);
		fuzz_write(name, data + off - len, len, path, sizeof(path));
		if (!len && !strncmp(name, "pages-", 6) && truncate(path, file_size % MAX_PAGES_SIZE)) {
			perror(path);
			exit(99);
		}
	}
	for (i = 0; i < nr_old_names; i++)
		if (!has_name(names, nr_names, old_names[i])) {
			snprintf(path, sizeof(path), "%s/%.255s", fuzz_dir, old_names[i]);
			unlink(path);
		}
}

/* What a restore does with the set before anything is forked. */
static void before_fork(struct img_set *set)
{
	struct restore_opts opts = { .dir = fuzz_dir };
	struct restore_ctx ctx = { .opts = &opts, .set = set };

	if (imgset_check(set))
		return;
	restore_features_check(set, 0);
	if (restore_features_check(set, 1))
		return;
	ctx.shared = calloc(1, restore_shared_size(set));
	if (ctx.shared && !restore_ctx_alloc(&ctx)) {
		restore_shared_init(ctx.shared, set);
		restore_prepare_counts(&ctx);
		restore_ctx_free(&ctx);
	}
	free(ctx.shared);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "show", "--tree", fuzz_dir, NULL };
	struct img_set *set;

	unpack(data, size);
	set = imgset_read(fuzz_dir);
	if (set) {
		before_fork(set);
		imgset_free(set);
	}
	cmd_show(3, argv);
	return 0;
}

/* fuzz.h: what the fuzz targets (tests/fuzz/fuzz_*.c) share.  Each target
 * is one LLVMFuzzerTestOneInput over crstep's real code; built with clang
 * -fsanitize=fuzzer it runs under libFuzzer (`make fuzz`), built with gcc
 * and replay.c it replays the seed and regression inputs (`make check`).
 *
 * crstep reads images from files, so the targets write the fuzzed bytes
 * into a private scratch directory on tmpfs and let the reader open them
 * as it would a real image directory: nothing of the reader is bypassed. */
#ifndef CRSTEP_FUZZ_H
#define CRSTEP_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[256];

static void fuzz_clear_dir(void)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static void fuzz_remove_dir(void)
{
	fuzz_clear_dir();
	rmdir(fuzz_dir);
}

/* A scratch directory of this process, removed at exit.  Every message and
 * every JSON document goes to /dev/null: the targets run millions of
 * times, and libFuzzer's and the sanitizers' reports use their own fd. */
static void fuzz_setup(void)
{
	const char *base = getenv("CRSTEP_FUZZ_TMP");
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (!base)
		base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/crstep-fuzz-XXXXXX", base);
	if (!mkdtemp(fuzz_dir)) {
		perror(fuzz_dir);
		exit(99);
	}
	atexit(fuzz_remove_dir);
	if (null < 0 || !freopen("/dev/null", "w", stdout)) {
		perror("/dev/null");
		exit(99);
	}
	log_set_fd(null);
}

/* Write one file of the scratch directory; path gets its full name. */
__attribute__((unused)) static void fuzz_write(const char *name, const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", fuzz_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		exit(99);
	}
	while (size) {
		ssize_t n = write(fd, data, size);

		if (n <= 0) {
			perror(path);
			exit(99);
		}
		data += n;
		size -= n;
	}
	close(fd);
}

/* Input of the one-image targets: byte 0 picks the image type (an index
 * into img_descs[], modulo their number), the rest is the file.  The file
 * is named as crstep names that type ("core-1.img", "files.img") so that
 * the reader finds its type from the name, as `crstep show FILE` does. */
__attribute__((unused)) static const struct img_desc *fuzz_image_name(uint8_t sel, char *name, size_t len)
{
	const struct img_desc *d;
	size_t n = 0;

	for (d = img_descs; d->name; d++)
		n++;
	d = &img_descs[sel % n];
	snprintf(name, len, "%s%s.img", d->prefix, d->prefix[strlen(d->prefix) - 1] == '-' ? "1" : "");
	return d;
}

#endif

/* replay.c: runs a fuzz target over every file of the corpus directories
 * named on the command line, printing TAP: one test per directory, which
 * fails if the target crashes (the process dies) or a file cannot be
 * read. This is how `make check` keeps each corpus passing without
 * libFuzzer. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	struct stat sb;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0)
		return -1;
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return 0;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf || mli_read_full(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		free(buf);
		close(fd);
		return -1;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, (size_t)sb.st_size);
	free(buf);
	return 1;
}

int main(int argc, char **argv)
{
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		int files = 0, bad = 0;
		char path[4096];

		while (d && (e = readdir(d))) {
			int rc;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			rc = replay_file(path);
			files += rc > 0;
			bad += rc < 0;
		}
		if (d)
			closedir(d);
		printf("%sok %d - %s: %d inputs replayed\n", d && !bad && files ? "" : "not ", i, argv[i], files);
		failed += !d || bad || !files;
	}
	printf("1..%d\n", argc - 1);
	return failed ? 1 : 0;
}

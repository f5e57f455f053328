/* ckptdir.c: naming, listing and pruning mli-train's checkpoints. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckptdir.h"
#include "cli.h"
#include "error.h"

void mli_ckptdir_name(char *name, size_t size, uint64_t step)
{
	snprintf(name, size, "step-%08" PRIu64 ".safetensors", step);
}

/* Whether name is a checkpoint's, and of which step. */
static int step_of(const char *name, uint64_t *step)
{
	unsigned long long s;
	int end = 0;

	if (sscanf(name, "step-%llu.safetensors%n", &s, &end) != 1 || name[end] != '\0')
		return 0;
	*step = s;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

size_t mli_ckptdir_list(const char *dir, uint64_t **steps)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0, cap = 0;

	*steps = NULL;
	while (d && (e = readdir(d))) {
		uint64_t s;

		if (!step_of(e->d_name, &s))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			uint64_t *g = realloc(*steps, cap * sizeof **steps);
			if (!g)
				break;
			*steps = g;
		}
		(*steps)[n++] = s;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(*steps, n, sizeof **steps, cmp_u64);
	return n;
}

/* Removes the temporary files that killed runs left in dir (a checkpoint
 * or the latest link being written: NAME.tmp.PID) once their process is
 * gone, so that they do not pile up over crashes. */
static void remove_stale_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	while (d && (e = readdir(d))) {
		const char *tmp = strstr(e->d_name, ".tmp.");
		long pid;

		if (!tmp || (strncmp(e->d_name, "step-", 5) != 0 &&
			     strncmp(e->d_name, ".latest", 7) != 0) ||
		    mli_parse_long(tmp + 5, 1, INT32_MAX, &pid) < 0 ||
		    pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

int mli_ckptdir_commit(const char *dir, uint64_t step, size_t keep)
{
	char name[64], path[4096], tmp[4096];
	uint64_t *steps;
	size_t n;

	mli_ckptdir_name(name, sizeof name, step);
	snprintf(path, sizeof path, "%s/latest.safetensors", dir);
	snprintf(tmp, sizeof tmp, "%s/.latest.tmp.%ld", dir, (long)getpid());
	unlink(tmp);
	if (symlink(name, tmp) < 0 || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return MLI_ESYS;
	}
	n = mli_ckptdir_list(dir, &steps);
	for (size_t i = 0; i + keep < n; i++) {
		mli_ckptdir_name(name, sizeof name, steps[i]);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		unlink(path);
	}
	free(steps);
	remove_stale_temporaries(dir);
	return 0;
}

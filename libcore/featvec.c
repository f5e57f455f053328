/* featvec.c: ten-crop averaging of feature rows and .npy output. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "featvec.h"

int mli_featavg_init(struct mli_featavg *a, size_t dim)
{
	memset(a, 0, sizeof *a);
	a->dim = dim;
	a->acc = calloc(dim ? dim : 1, sizeof *a->acc);
	a->out = calloc(dim ? dim : 1, sizeof *a->out);
	if (!a->acc || !a->out) {
		mli_featavg_free(a);
		return MLI_ENOMEM;
	}
	return 0;
}

void mli_featavg_free(struct mli_featavg *a)
{
	free(a->acc);
	free(a->out);
	free(a->key);
	free(a->out_key);
	memset(a, 0, sizeof *a);
}

static int grow(char **buf, size_t *cap, size_t need)
{
	char *p;

	if (need <= *cap)
		return 0;
	p = realloc(*buf, need);
	if (!p)
		return MLI_ENOMEM;
	*buf = p;
	*cap = need;
	return 0;
}

/* Moves the pending image to out; the caller knows one is pending. */
static int finish(struct mli_featavg *a)
{
	size_t i;

	if (grow(&a->out_key, &a->out_key_cap, a->key_len + 1) < 0)
		return MLI_ENOMEM;
	memcpy(a->out_key, a->key, a->key_len + 1);
	for (i = 0; i < a->dim; i++)
		a->out[i] = (float)(a->acc[i] / a->rows);
	a->rows = 0;
	return 1;
}

int mli_featavg_add(struct mli_featavg *a, const char *key, size_t key_len, int merge,
		    const float *row)
{
	int done = 0;
	size_t i;

	if (a->rows && !(merge && key_len == a->key_len && memcmp(key, a->key, key_len) == 0)) {
		done = finish(a);
		if (done < 0)
			return done;
	}
	if (!a->rows) {
		if (grow(&a->key, &a->key_cap, key_len + 1) < 0)
			return MLI_ENOMEM;
		memcpy(a->key, key, key_len);
		a->key[key_len] = '\0';
		a->key_len = key_len;
		for (i = 0; i < a->dim; i++)
			a->acc[i] = 0;
	}
	for (i = 0; i < a->dim; i++)
		a->acc[i] += row[i];
	a->rows++;
	return done;
}

int mli_featavg_flush(struct mli_featavg *a)
{
	return a->rows ? finish(a) : 0;
}

#define NPY_HEADER 128

static int npy_header(struct mli_npy *n)
{
	char h[NPY_HEADER];
	int len;

	memset(h, ' ', sizeof h);
	memcpy(h, "\x93NUMPY\x01\x00", 8);
	h[8] = (char)(NPY_HEADER - 10);
	h[9] = 0;
	len = snprintf(h + 10, NPY_HEADER - 10,
		       "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ", %zu), }",
		       n->rows, n->dim);
	if (len < 0 || len >= NPY_HEADER - 11) {
		errno = EOVERFLOW;
		return MLI_ESYS;
	}
	h[10 + len] = ' ';
	h[NPY_HEADER - 1] = '\n';
	if (fseek(n->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, n->f) != sizeof h)
		return MLI_ESYS;
	return 0;
}

/* Frees n's names; errno is kept for the caller's message. */
static void npy_forget(struct mli_npy *n)
{
	int e = errno;

	free(n->path);
	free(n->tmp);
	n->path = n->tmp = NULL;
	errno = e;
}

int mli_npy_create(struct mli_npy *n, const char *path, size_t dim)
{
	memset(n, 0, sizeof *n);
	n->dim = dim;
	n->path = strdup(path);
	if (!n->path || asprintf(&n->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		n->tmp = NULL;
		npy_forget(n);
		return MLI_ENOMEM;
	}
	char *dir = strdup(path);
	if (!dir) {
		npy_forget(n);
		return MLI_ENOMEM;
	}
	int fd = open(dirname(dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	free(dir);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		fd = open(n->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		n->named = fd >= 0;
	}
	if (fd >= 0 && !(n->f = fdopen(fd, "wb")))
		close(fd);
	if (!n->f || npy_header(n) < 0) {
		mli_npy_discard(n);
		return MLI_ESYS;
	}
	return 0;
}

int mli_npy_write(struct mli_npy *n, const float *row)
{
	/* The format is little-endian ('<f4'), as every host mli runs on. */
	if (fwrite(row, sizeof *row, n->dim, n->f) != n->dim)
		return MLI_ESYS;
	n->rows++;
	return 0;
}

int mli_npy_close(struct mli_npy *n)
{
	if (npy_header(n) < 0 || fflush(n->f) != 0 || fsync(fileno(n->f)) < 0) {
		mli_npy_discard(n);
		return MLI_ESYS;
	}
	if (!n->named) {
		/* The file gets its temporary name here, then path by rename,
		 * which replaces an older file of that name at once. */
		char self[64];
		snprintf(self, sizeof self, "/proc/self/fd/%d", fileno(n->f));
		if (linkat(AT_FDCWD, self, AT_FDCWD, n->tmp, AT_SYMLINK_FOLLOW) < 0) {
			mli_npy_discard(n);
			return MLI_ESYS;
		}
		n->named = 1;
	}
	FILE *f = n->f;
	n->f = NULL;
	if (fclose(f) != 0 || rename(n->tmp, n->path) < 0) {
		mli_npy_discard(n);
		return MLI_ESYS;
	}
	npy_forget(n);
	return 0;
}

void mli_npy_discard(struct mli_npy *n)
{
	int e = errno;

	if (n->f)
		fclose(n->f);
	n->f = NULL;
	if (n->named)
		unlink(n->tmp);
	n->named = 0;
	npy_forget(n);
	errno = e;
}

/* featvec.h: feature vectors out of mli-eval: ten-crop averaging, the
 * FEATURES record and .npy files.
 *
 * FEATURES (record type 5, mli-frame(5)) holds one image's KEY and a
 * FEATURE field (tag 64): a float32 tensor [features], the pooled vector
 * before the classifier, averaged over the image's views when it had
 * several. */
#ifndef MLI_FEATVEC_H
#define MLI_FEATVEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


/* Averages consecutive rows that belong to one image. */
struct mli_featavg {
	size_t dim;
	double *acc;         /* (dim) sum of the pending image's rows */
	uint32_t rows;       /* rows in acc; 0: nothing pending */
	char *key;           /* the pending image's key, NUL-terminated */
	size_t key_len, key_cap;
	float *out;          /* (dim) the last finished image's average */
	char *out_key;       /* its key, NUL-terminated */
	size_t out_key_cap;
};

/* Returns 0 or MLI_ENOMEM. */
int mli_featavg_init(struct mli_featavg *a, size_t dim);
void mli_featavg_free(struct mli_featavg *a);

/* Adds one row (dim floats) of the image with this key. merge nonzero
 * lets the row join the pending image when the keys are equal (a later
 * view of it); otherwise, or for another key, the pending image is
 * finished first: its average goes to a->out and its key to a->out_key,
 * and 1 is returned. Returns 0 when nothing was finished, MLI_ENOMEM. */
int mli_featavg_add(struct mli_featavg *a, const char *key, size_t key_len, int merge,
		    const float *row);

/* Finishes the pending image at the end of input, as above: 1 with
 * a->out and a->out_key set, or 0 when nothing is pending. */
int mli_featavg_flush(struct mli_featavg *a);

/* .npy (NumPy format 1.0) of float32 rows: a 128-byte header written
 * first with a row count patched when the file is closed. The rows go to
 * a file without a name in path's directory (O_TMPFILE), which is given
 * path only once whole: a full disk, a failure or a killed run never
 * leaves a cut .npy, and leaves no temporary file either. Where the file
 * system cannot do that, a temporary name (path.tmp.PID) stands in, and
 * a killed run can leave it behind. */
struct mli_npy {
	FILE *f;
	size_t dim;
	uint64_t rows;
	char *path, *tmp;  /* tmp: the file's temporary name */
	int named;         /* the file is at tmp (else it has no name) */
};

/* Starts path. Returns 0, MLI_ENOMEM or MLI_ESYS (errno set). */
int mli_npy_create(struct mli_npy *n, const char *path, size_t dim);

/* Appends one row of dim floats. Returns 0 or MLI_ESYS. */
int mli_npy_write(struct mli_npy *n, const float *row);

/* Writes the final header, syncs and closes the file and gives it its
 * name. Returns 0, or MLI_ESYS (errno set) after removing the temporary
 * file. */
int mli_npy_close(struct mli_npy *n);

/* Removes the unfinished file (on a failure elsewhere). n may be one that
 * was never created or already closed. */
void mli_npy_discard(struct mli_npy *n);

#endif

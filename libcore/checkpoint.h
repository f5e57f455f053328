/* checkpoint.h: safetensors files, written atomically.
 *
 * Format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N; N bytes of JSON (padded with spaces to
 * a multiple of 8) mapping each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end]} (offsets into the data after the
 * header), plus "__metadata__", an object of string values; then the
 * raw little-endian tensors. Only F32 tensors are written and read here.
 *
 * A write goes to a temporary file in the same directory, is fsynced,
 * renamed over the destination and the directory fsynced: a reader (or
 * a crash) sees the old file or the new one, never a part. */
#ifndef MLI_CHECKPOINT_H
#define MLI_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct mli_ckpt_tensor {
	const char *name;
	const float *data;
	int ndim;               /* 0 to 4 */
	size_t dims[4];
};

struct mli_ckpt_meta {
	const char *key, *value;
};

/* Writes the tensors and metadata to path atomically. Returns 0, MLI_ESYS
 * (errno set), MLI_ENOMEM or MLI_EINVAL (a duplicate or empty name). */
int mli_ckpt_write(const char *path, const struct mli_ckpt_tensor *t, size_t n,
		   const struct mli_ckpt_meta *meta, size_t n_meta);

struct mli_ckpt;

/* Reads a whole checkpoint into memory and checks its header (JSON,
 * dtypes, shapes against offsets, offsets inside the file and not
 * overlapping). Returns 0, MLI_ESYS, MLI_ENOMEM, or MLI_EINVAL with *why
 * set to a phrase naming the fault. */
int mli_ckpt_open(struct mli_ckpt **c, const char *path, const char **why);
void mli_ckpt_free(struct mli_ckpt *c);

/* The same from a copy of size bytes at data (no file). */
int mli_ckpt_parse(struct mli_ckpt **c, const void *data, size_t size, const char **why);

/* The F32 tensor of this name: *data (count floats, aligned copies are
 * the caller's business: the pointer may be unaligned), its shape.
 * Returns 0, or MLI_EINVAL when there is no such tensor or it is not
 * F32. */
int mli_ckpt_tensor(const struct mli_ckpt *c, const char *name, const void **data,
		    int *ndim, size_t dims[4], size_t *count);

/* A metadata value, or NULL. */
const char *mli_ckpt_meta(const struct mli_ckpt *c, const char *key);

/* Number of tensors, and the name of the i-th (in header order). */
size_t mli_ckpt_count(const struct mli_ckpt *c);
const char *mli_ckpt_name(const struct mli_ckpt *c, size_t i);

#endif

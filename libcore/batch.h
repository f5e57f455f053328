/* batch.h: gathering images into BATCH records (mli-frame(5)).
 *
 * A batch holds up to `size` images of one geometry, [height, width,
 * channels] uint8 as IMAGE records carry them, and writes them as one
 * BATCH record:
 *
 *   INPUT         [N, channels, height, width], uint8 (the pixels as they
 *                 are) or float32 (each pixel p as p * (2 / 255) - 1, in
 *                 [-1, 1]: the original network's input scaling, computed
 *                 as mli-train computes it from uint8, to the same bits)
 *   TARGET        float32 [N, classes], the dense label matrix (when
 *                 classes is set): 0 for a class an image does not list,
 *                 its confidence for one it does (or, binarised, 1 when
 *                 the confidence is at least the threshold, else 0), and
 *                 -1 ("ignore") kept as -1 either way
 *   KEYS          the N keys, each followed by a NUL byte
 *   BATCH_LABELS  the N images' sparse labels as they came
 *   VIEWS         N 4-byte view indices, when any image carried VIEW
 *
 * The geometry is that of the first image ever added: every later image
 * must match it, batch after batch. */
#ifndef MLI_BATCH_H
#define MLI_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "writer.h"

/* No view index: the image is not one of several views of a source. */
#define MLI_VIEW_NONE UINT32_MAX

struct mli_batch_options {
	uint32_t size;     /* images per batch, at least 1 */
	uint32_t classes;  /* columns of TARGET; 0: no TARGET */
	int binarise;      /* confidences to 0/1 by threshold */
	float threshold;
	int dtype;         /* MLI_DTYPE_U8 or MLI_DTYPE_F32 */
};

struct mli_batch;

/* Returns 0, MLI_EINVAL for bad options, or MLI_ENOMEM. */
int mli_batch_create(struct mli_batch **b, const struct mli_batch_options *opt);
void mli_batch_free(struct mli_batch *b);

/* Adds one image: pixels [dims[0], dims[1], dims[2]] uint8. Returns the
 * count of images now in the batch, or MLI_EINVAL when the geometry is not
 * the batch's (mli_batch_shape() says what it is), MLI_ERANGE when a label
 * names a class beyond `classes` (*bad_class set to it), MLI_ENOMEM.
 * Nothing is added on error. The caller writes the batch when it is full. */
int mli_batch_add(struct mli_batch *b, const char *key, size_t key_len,
		  const struct mli_label *labels, size_t n_labels, uint32_t view,
		  const uint8_t *pixels, const uint32_t dims[3], uint32_t *bad_class);

/* Images in the batch now. */
size_t mli_batch_count(const struct mli_batch *b);

/* The geometry [height, width, channels], or NULL before the first image. */
const uint32_t *mli_batch_shape(const struct mli_batch *b);

/* Writes the images gathered (at least one) as a BATCH record with this
 * key, then empties the batch. Returns 0 or a writer error. */
int mli_batch_write(struct mli_batch *b, struct mli_writer *w, const char *key, size_t key_len);

/* Fills row [classes] from n sparse labels as TARGET does (above).
 * Returns 0, or MLI_ERANGE with *bad_class set, leaving row in an
 * unspecified state. */
int mli_labels_dense(const struct mli_label *labels, size_t n, uint32_t classes, int binarise,
		     float threshold, float *row, uint32_t *bad_class);

/* The class count of a dictionary file's text: one more than the largest
 * whole number that begins a line (so that both of the release's
 * dictionaries, with a header line or without, count right). Returns 0,
 * or MLI_EINVAL when no line begins with a number. */
int mli_dictionary_classes(const char *text, size_t len, uint32_t *classes);

#endif

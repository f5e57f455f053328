/* resize.h: antialiased resizing of 8-bit images.
 *
 * A separable triangle (linear) filter whose support widens with the
 * scale factor when shrinking, so that every source pixel contributes and
 * none is skipped (no aliasing), as Pillow's BILINEAR filter: vertical
 * pass into an 8-bit row of [src_w, c], then horizontal. Weights are
 * fixed point (14 fraction bits) and the arithmetic is in integers, so
 * results are the same on every machine and with or without the AVX2
 * kernels (used when the CPU has them, unless the environment variable
 * MLI_KERNELS is "ref").
 *
 * Two ways in, giving the same bytes: mli_resize on a whole image in
 * memory, or a resizer fed with the source rows in order as they are
 * produced (by a JPEG decoder, say), which keeps only the few rows the
 * filter spans, so that source rows are resized while still in cache. */
#ifndef MLI_RESIZE_H
#define MLI_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* Resizes src [sh, sw, c] (rows src_stride bytes apart) into dst
 * [dh, dw, c] (rows packed). Any sizes from 1 up, shrinking or enlarging.
 * Returns 0, MLI_EINVAL for a zero size or c outside 1-4, or MLI_ENOMEM. */
int mli_resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
	       uint8_t *dst, uint32_t dh, uint32_t dw);

/* The most rows mli_resizer_rows hands out at once. */
#define MLI_RESIZER_BATCH 16

struct mli_resizer;

/* A resizer of an image [sh, sw, c] into dst [dh, dw, c] (rows packed;
 * dst must stay valid until the last row is pushed). Returns 0 with *rp
 * set, MLI_EINVAL or MLI_ENOMEM as mli_resize. */
int mli_resizer_new(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		    uint32_t dh, uint32_t dw);

/* Buffers for the next source rows: rows[0 .. m-1] receive source rows
 * y .. y + m - 1 (sw * c bytes each), y being the first not yet pushed;
 * returns m, at most max (and MLI_RESIZER_BATCH), 0 once every row is in. */
uint32_t mli_resizer_rows(struct mli_resizer *r, uint8_t **rows, uint32_t max);

/* Takes the next m source rows, written into the buffers the last call
 * of mli_resizer_rows gave (m at most what it returned), and writes
 * every output row they complete. */
void mli_resizer_push(struct mli_resizer *r, uint32_t m);

/* Makes *rp a resizer as mli_resizer_new would, reusing the one already
 * there (rewound, writing to dst) when it was made for the same sizes
 * and kernels, so that a run of images of one size computes its filter
 * taps once; *rp may be NULL. Returns 0, or MLI_EINVAL or MLI_ENOMEM
 * with *rp NULL. */
int mli_resizer_reuse(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		      uint32_t dh, uint32_t dw);

/* Whether mli_resizer_reuse would reuse r for these sizes. */
int mli_resizer_matches(const struct mli_resizer *r, uint32_t sh, uint32_t sw, uint32_t c, uint32_t dh,
			uint32_t dw);

/* Whether every output row has been written. */
int mli_resizer_done(const struct mli_resizer *r);

void mli_resizer_free(struct mli_resizer *r);

#endif

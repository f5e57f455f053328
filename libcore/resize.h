/* resize.h: antialiased resizing of 8-bit images.
 *
 * A separable triangle (linear) filter whose support widens with the
 * scale factor when shrinking, so that every source pixel contributes and
 * none is skipped (no aliasing), as Pillow's BILINEAR filter: vertical
 * pass into an 8-bit intermediate of [dst_h, src_w, c], then horizontal.
 * Weights are fixed point (14 fraction bits) and the arithmetic is in
 * integers, so results are the same on every machine and with or without
 * the AVX2 kernels (used when the CPU has them, unless the environment
 * variable MLI_KERNELS is "ref"). */
#ifndef MLI_RESIZE_H
#define MLI_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* Resizes src [sh, sw, c] (rows src_stride bytes apart) into dst
 * [dh, dw, c] (rows packed). Any sizes from 1 up, shrinking or enlarging.
 * Returns 0, MLI_EINVAL for a zero size or c outside 1-4, or MLI_ENOMEM. */
int mli_resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
	       uint8_t *dst, uint32_t dh, uint32_t dw);

#endif

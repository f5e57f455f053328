/* resize_impl.h: the row kernels of resize.c, shared by the portable and
 * the AVX2 versions (resize_avx2.c, the only file built with -mavx2).
 *
 * Both compute exactly the same integers: weights are int16 with
 * MLI__RESIZE_BITS fraction bits, non-negative, and sums of 8-bit values
 * times weights are exact in int32, so the order of additions does not
 * matter and every machine gives the same bytes. */
#ifndef MLI_RESIZE_IMPL_H
#define MLI_RESIZE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "resize.h"

#define MLI__RESIZE_BITS 14

/* The taps of one dimension: output i is the weighted sum of source
 * pixels first[i] .. first[i] + n[i] - 1 with weights w[i * k ...];
 * weights past n[i] are zero (k is a multiple of 4). first[] never
 * decreases with i.
 *
 * For the SIMD horizontal kernel, taps are also laid out in chunks of
 * four: output i reads chunks 16-byte loads at byte (first[i] + 4 q) * 3
 * (q < chunks), and w16[(i * chunks + q) * 16 ...] holds the int16
 * weights that line up with those bytes once shuffled into pairs:
 * (w0 w1) x 3 channels, 0 0, then (w2 w3) x 3, 0 0. A source row must
 * therefore be readable for pad bytes past its end (their weight is
 * zero). */
struct mli__taps {
	uint32_t k;
	uint32_t *first;   /* [out] */
	uint32_t *n;       /* [out] */
	int16_t *w;        /* [out, k] */
	uint32_t chunks;   /* max over i of ceil(n[i] / 4) */
	int16_t *w16;      /* [out, chunks, 16], or NULL when not asked for */
	size_t pad;        /* bytes readable past a 3-channel source row */
	/* The AVX-512 horizontal kernel's tables (resize_avx512.c), for
	 * groups of 16 outputs whose taps all lie within 128 bytes from
	 * pixel first[16 g] (idx512 is NULL otherwise): per group, per pair
	 * of taps p < pairs, per register z < 3, the byte indices into the
	 * 128 bytes [64] and the weight pairs [32] of channel values 16 z ..
	 * 16 z + 15. */
	uint32_t pairs;    /* max over i of ceil(n[i] / 2) */
	uint8_t *idx512;   /* [groups, pairs, 3, 64] */
	int16_t *w512;     /* [groups, pairs, 3, 32] */
};

/* One row, horizontally: src [in, 3] (followed by t->pad readable bytes)
 * to dst [out, 3]. The AVX2 kernel needs t->w16. */
void mli__resize_h3_ref(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t);
void mli__resize_h3_avx2(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t);
void mli__resize_h3_avx512(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t);

/* One output row, vertically: dst[x] = sum over j < n of
 * w[j] * rows[j][x], for x < len. */
void mli__resize_v_ref(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
		       uint8_t *dst);
void mli__resize_v_avx2(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
			uint8_t *dst);
void mli__resize_v_avx512(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
			  uint8_t *dst);

/* Which kernels: the portable reference, the best the CPU runs, or no
 * better than AVX2 (so that tests can compare each with the reference). */
enum { MLI__RESIZE_REF = 0, MLI__RESIZE_BEST = 1, MLI__RESIZE_AVX2 = 2 };

/* mli_resize with the kernels simd (MLI__RESIZE_*) says. */
int mli__resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
		uint8_t *dst, uint32_t dh, uint32_t dw, int simd);

/* mli_resizer_new with the kernels chosen as mli__resize does. */
int mli__resizer_new(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		     uint32_t dh, uint32_t dw, int simd);

#endif

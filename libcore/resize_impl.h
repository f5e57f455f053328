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

#define MLI__RESIZE_BITS 14

/* The taps of one dimension: output i is the weighted sum of source
 * pixels first[i] .. first[i] + k - 1 with weights w[i * k ...]; weights
 * past the filter's n[i] taps are zero (k is a multiple of 4, so SIMD
 * code can take taps four at a time). */
struct mli__taps {
	uint32_t k;
	uint32_t *first;   /* [out] */
	uint32_t *n;       /* [out] */
	int16_t *w;        /* [out, k] */
};

/* One row, horizontally: src [in, 3] to dst [out, 3]. in is the source
 * row's length in pixels: no byte past it is read. */
void mli__resize_h3_ref(const uint8_t *src, uint32_t in, uint8_t *dst, uint32_t out,
			const struct mli__taps *t);
void mli__resize_h3_avx2(const uint8_t *src, uint32_t in, uint8_t *dst, uint32_t out,
			 const struct mli__taps *t);

/* One output row, vertically: dst[x] = sum over j < n of
 * w[j] * src[j * stride + x], for x < len. */
void mli__resize_v_ref(const uint8_t *src, size_t stride, size_t len, uint32_t n,
		       const int16_t *w, uint8_t *dst);
void mli__resize_v_avx2(const uint8_t *src, size_t stride, size_t len, uint32_t n,
			const int16_t *w, uint8_t *dst);

/* mli_resize with the reference kernels (simd 0) or the best the CPU
 * runs (simd 1). */
int mli__resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
		uint8_t *dst, uint32_t dh, uint32_t dw, int simd);

#endif

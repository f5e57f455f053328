/* resize_avx512.c: the resize row kernels with AVX-512 (this file alone
 * is built with the AVX-512 flags; the horizontal kernel also needs
 * AVX512_VBMI, asked for on that function alone). resize.c calls them
 * only on a CPU that has them. They compute exactly what the reference
 * kernels compute: 8-bit pixels times int16 weights, summed in int32 by
 * _mm512_madd_epi16, rounded and shifted once. */
#include <immintrin.h>

#include "resize_impl.h"

#define BITS MLI__RESIZE_BITS
#define HALF (1 << (BITS - 1))

/* Output byte v = 16 z + 4 k + q (value 4 k + q of accumulator z) is
 * byte 16 k + 4 z + q after the packs. */
static const uint8_t order_idx[64] = {
	0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51,
	4, 5, 6, 7, 20, 21, 22, 23, 36, 37, 38, 39, 52, 53, 54, 55,
	8, 9, 10, 11, 24, 25, 26, 27, 40, 41, 42, 43, 56, 57, 58, 59,
	48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
};

/* Sixteen output pixels (48 channel values) at a time: the source bytes
 * they read lie within 128 bytes from pixel first[16 g] (the plan checks
 * it), held in two registers; per pair of taps, a two-register byte
 * permutation puts each value's two source bytes (zero-extended) into
 * the int32 slot of that value, and madd multiplies them by the pair of
 * weights. Accumulator z holds values 16 z .. 16 z + 15 in output order
 * (R, G, B of pixel 0, then pixel 1, ...); packs and one byte permutation
 * make the 48 output bytes. */
__attribute__((target("avx512vbmi")))
void mli__resize_h3_avx512(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t)
{
	const __m512i half = _mm512_set1_epi32(HALF);
	const __m512i order = _mm512_loadu_si512((const void *)order_idx);
	const __mmask64 even = 0x5555555555555555ULL;
	const uint32_t pairs = t->pairs;
	const uint8_t *idx = t->idx512;
	const int16_t *w = t->w512;

	for (uint32_t i = 0; i < out; i += 16, idx += (size_t)pairs * 192, w += (size_t)pairs * 96) {
		const uint8_t *s = src + (size_t)t->first[i] * 3;
		__m512i lo = _mm512_loadu_si512((const void *)s), hi = _mm512_loadu_si512((const void *)(s + 64));
		__m512i a0 = half, a1 = half, a2 = half;
		for (uint32_t p = 0; p < pairs; p++) {
			const uint8_t *ip = idx + (size_t)p * 192;
			const int16_t *wp = w + (size_t)p * 96;
			__m512i v0 = _mm512_maskz_permutex2var_epi8(even, lo, _mm512_loadu_si512((const void *)ip), hi);
			__m512i v1 = _mm512_maskz_permutex2var_epi8(even, lo, _mm512_loadu_si512((const void *)(ip + 64)), hi);
			__m512i v2 = _mm512_maskz_permutex2var_epi8(even, lo, _mm512_loadu_si512((const void *)(ip + 128)), hi);
			a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(v0, _mm512_loadu_si512((const void *)wp)));
			a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(v1, _mm512_loadu_si512((const void *)(wp + 32))));
			a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(v2, _mm512_loadu_si512((const void *)(wp + 64))));
		}
		/* Saturating packs clip to 0-255 as the reference does; they
		 * leave per 128-bit lane k the bytes of a0, a1, a2, a2 lane k,
		 * which the permutation puts back in order. */
		a0 = _mm512_srai_epi32(a0, BITS);
		a1 = _mm512_srai_epi32(a1, BITS);
		a2 = _mm512_srai_epi32(a2, BITS);
		__m512i v = _mm512_packus_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(a2, a2));
		v = _mm512_permutexvar_epi8(order, v);
		uint32_t nv = out - i >= 16 ? 48 : (out - i) * 3;
		_mm512_mask_storeu_epi8(dst + (size_t)i * 3, ((__mmask64)1 << nv) - 1, v);
	}
}

/* 64 bytes of one output row from n source rows: rows j and j + 1
 * interleaved byte by byte, then widened to int16 pairs (row j, row
 * j + 1) for madd with the pair of weights wv[j / 2]. A lone last row is
 * paired with zeros. Inlined with n a constant for the common filters,
 * so that the row pointers and weights stay in registers. */
static inline __attribute__((always_inline)) void
vblock(const uint8_t *const *rows, uint32_t n, const __m512i *wv, size_t x, __mmask64 m, uint8_t *dst)
{
	const __m512i zero = _mm512_setzero_si512(), half = _mm512_set1_epi32(HALF);
	__m512i a0 = half, a1 = half, a2 = half, a3 = half;

	for (uint32_t j = 0; j < n; j += 2) {
		__m512i r0 = _mm512_maskz_loadu_epi8(m, rows[j] + x);
		__m512i r1 = j + 1 < n ? _mm512_maskz_loadu_epi8(m, rows[j + 1] + x) : zero;
		__m512i lo = _mm512_unpacklo_epi8(r0, r1), hi = _mm512_unpackhi_epi8(r0, r1);
		a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(_mm512_unpacklo_epi8(lo, zero), wv[j / 2]));
		a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(_mm512_unpackhi_epi8(lo, zero), wv[j / 2]));
		a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(_mm512_unpacklo_epi8(hi, zero), wv[j / 2]));
		a3 = _mm512_add_epi32(a3, _mm512_madd_epi16(_mm512_unpackhi_epi8(hi, zero), wv[j / 2]));
	}
	/* Per 128-bit lane the four sums hold bytes 0-3, 4-7, 8-11 and
	 * 12-15 of that lane, so the packs restore the order. */
	a0 = _mm512_srai_epi32(a0, BITS);
	a1 = _mm512_srai_epi32(a1, BITS);
	a2 = _mm512_srai_epi32(a2, BITS);
	a3 = _mm512_srai_epi32(a3, BITS);
	__m512i p = _mm512_packus_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(a2, a3));
	_mm512_mask_storeu_epi8(dst + x, m, p);
}

static inline __attribute__((always_inline)) void
vrow(const uint8_t *const *rows, uint32_t n, const __m512i *wv, size_t len, uint8_t *dst)
{
	size_t x = 0;

	for (; x + 64 <= len; x += 64)
		vblock(rows, n, wv, x, ~(__mmask64)0, dst);
	/* The last block is masked: no byte past len is read or written. */
	if (x < len)
		vblock(rows, n, wv, x, ((__mmask64)1 << (len - x)) - 1, dst);
}

void mli__resize_v_avx512(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
			  uint8_t *dst)
{
	__m512i wv[64];

	/* wv holds the weights of up to 128 taps; more come only from
	 * shrinking by more than 60 times, left to the portable kernel. */
	if (n > 128) {
		mli__resize_v_ref(rows, n, w, len, dst);
		return;
	}
	for (uint32_t j = 0; j < n; j += 2) {
		uint32_t w1 = j + 1 < n ? (uint16_t)w[j + 1] : 0;
		wv[j / 2] = _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)w[j] | w1 << 16));
	}
	switch (n) {
	case 2: vrow(rows, 2, wv, len, dst); break;
	case 3: vrow(rows, 3, wv, len, dst); break;
	case 4: vrow(rows, 4, wv, len, dst); break;
	case 5: vrow(rows, 5, wv, len, dst); break;
	default: vrow(rows, n, wv, len, dst); break;
	}
}

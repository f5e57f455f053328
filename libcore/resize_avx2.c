/* resize_avx2.c: the resize row kernels with AVX2 (built with -mavx2
 * -mfma; called only on a CPU that has them). They compute exactly what
 * the reference kernels in resize.c compute: pairs of 8-bit pixels times
 * pairs of int16 weights summed into int32 by _mm256_madd_epi16. */
#include <immintrin.h>
#include <string.h>

#include "resize_impl.h"

#define BITS MLI__RESIZE_BITS
#define HALF (1 << (BITS - 1))

/* Output pixel i before the final sum: the products of its taps, per
 * 128-bit lane the int32 sums (R, G, B, 0) of taps 4q, 4q + 1 (low lane)
 * and 4q + 2, 4q + 3 (high lane), summed over the chunks q. Inlined with
 * chunks a constant for the common filters (shrinking by up to 2 takes
 * one chunk), so that the loop disappears. */
static inline __attribute__((always_inline)) __m256i
taps3(const uint8_t *src, const struct mli__taps *t, uint32_t i, uint32_t chunks, __m256i shuf)
{
	const uint8_t *s = src + (size_t)t->first[i] * 3;
	const int16_t *w = t->w16 + (size_t)i * chunks * 16;
	__m256i acc = _mm256_setzero_si256();

	/* 16 bytes from pixel p hold pixels p .. p + 3 (12 bytes); the
	 * shuffle makes (R, G, B) int16 pairs of taps 0, 1 in the low lane
	 * and of taps 2, 3 in the high lane. */
	for (uint32_t q = 0; q < chunks; q++, s += 12, w += 16) {
		__m256i v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)s)),
						shuf);
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)w)));
	}
	return acc;
}

/* Pixels a and b (lanes) from their taps3 sums, rounded and shifted. */
static inline __m256i pair(__m256i a, __m256i b)
{
	__m256i s = _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
				     _mm256_permute2x128_si256(a, b, 0x31));
	return _mm256_srai_epi32(_mm256_add_epi32(s, _mm256_set1_epi32(HALF)), BITS);
}

/* Output pixels idx[0 .. 7] as 24 packed bytes in the low 24 bytes. */
static inline __attribute__((always_inline)) __m256i
eight(const uint8_t *src, const struct mli__taps *t, const uint32_t *idx, uint32_t chunks)
{
	const __m256i shuf = _mm256_setr_epi8(
		0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
		6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
	/* (R, G, B, 0) bytes of four pixels per lane to 12 packed bytes,
	 * then the two lanes' 12 bytes next to each other. */
	const __m256i compact = _mm256_setr_epi8(
		0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
		0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
	const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
	__m256i p0 = taps3(src, t, idx[0], chunks, shuf), p1 = taps3(src, t, idx[1], chunks, shuf);
	__m256i p2 = taps3(src, t, idx[2], chunks, shuf), p3 = taps3(src, t, idx[3], chunks, shuf);
	__m256i p4 = taps3(src, t, idx[4], chunks, shuf), p5 = taps3(src, t, idx[5], chunks, shuf);
	__m256i p6 = taps3(src, t, idx[6], chunks, shuf), p7 = taps3(src, t, idx[7], chunks, shuf);
	/* Lanes (0 | 4), (1 | 5), (2 | 6), (3 | 7): the packs then put
	 * pixels 0-3 in the low lane and 4-7 in the high one. */
	__m256i a = pair(p0, p4), b = pair(p1, p5), c = pair(p2, p6), d = pair(p3, p7);
	__m256i v = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
	return _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, compact), join);
}

static inline __attribute__((always_inline)) void
h3(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t, uint32_t chunks)
{
	static const uint32_t step[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	uint8_t tail[32];
	uint32_t i = 0, idx[8];

	for (; i + 8 <= out; i += 8) {
		for (int p = 0; p < 8; p++)
			idx[p] = i + step[p];
		__m256i v = eight(src, t, idx, chunks);
		uint8_t *o = dst + (size_t)i * 3;
		_mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(v));
		_mm_storel_epi64((__m128i *)(o + 16), _mm256_extracti128_si256(v, 1));
	}
	if (i < out) {
		/* The last pixels, the last one repeated to make eight. */
		for (int p = 0; p < 8; p++)
			idx[p] = i + step[p] < out ? i + step[p] : out - 1;
		_mm256_storeu_si256((__m256i *)tail, eight(src, t, idx, chunks));
		memcpy(dst + (size_t)i * 3, tail, (size_t)(out - i) * 3);
	}
}

void mli__resize_h3_avx2(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t)
{
	switch (t->chunks) {
	case 1:
		h3(src, dst, out, t, 1);
		break;
	case 2:
		h3(src, dst, out, t, 2);
		break;
	default:
		h3(src, dst, out, t, t->chunks);
		break;
	}
}

void mli__resize_v_avx2(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
			uint8_t *dst)
{
	const __m256i zero = _mm256_setzero_si256(), half = _mm256_set1_epi32(HALF);
	size_t x = 0;

	for (; x + 32 <= len; x += 32) {
		__m256i a0 = half, a1 = half, a2 = half, a3 = half;
		for (uint32_t j = 0; j < n; j += 2) {
			/* Rows j and j + 1 interleaved byte by byte, then widened:
			 * int16 pairs (row j, row j + 1) for madd. A lone last row
			 * is paired with zeros. */
			__m256i r0 = _mm256_loadu_si256((const __m256i *)(rows[j] + x));
			__m256i r1 = j + 1 < n ? _mm256_loadu_si256((const __m256i *)(rows[j + 1] + x)) : zero;
			uint32_t w1 = j + 1 < n ? (uint16_t)w[j + 1] : 0;
			__m256i wv = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)w[j] | w1 << 16));
			__m256i lo = _mm256_unpacklo_epi8(r0, r1), hi = _mm256_unpackhi_epi8(r0, r1);
			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi8(lo, zero), wv));
			a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi8(lo, zero), wv));
			a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi8(hi, zero), wv));
			a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi8(hi, zero), wv));
		}
		/* Per 128-bit lane the four sums hold bytes 0-3, 4-7, 8-11 and
		 * 12-15 of that lane, so the packs restore the order. */
		a0 = _mm256_srai_epi32(a0, BITS);
		a1 = _mm256_srai_epi32(a1, BITS);
		a2 = _mm256_srai_epi32(a2, BITS);
		a3 = _mm256_srai_epi32(a3, BITS);
		__m256i p = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
		_mm256_storeu_si256((__m256i *)(dst + x), p);
	}
	for (; x < len; x++) {
		int32_t a = HALF;
		for (uint32_t j = 0; j < n; j++)
			a += rows[j][x] * w[j];
		a >>= BITS;
		dst[x] = (uint8_t)(a < 0 ? 0 : a > 255 ? 255 : a);
	}
}

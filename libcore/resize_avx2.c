/* resize_avx2.c: the resize row kernels with AVX2 (built with -mavx2
 * -mfma; called only on a CPU that has them). They compute exactly what
 * the reference kernels in resize.c compute: pairs of 8-bit pixels times
 * pairs of int16 weights summed into int32 by _mm256_madd_epi16. */
#include <immintrin.h>
#include <string.h>

#include "resize_impl.h"

#define BITS MLI__RESIZE_BITS
#define HALF (1 << (BITS - 1))

static inline uint8_t clip8(int32_t v)
{
	v >>= BITS;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

void mli__resize_h3_avx2(const uint8_t *src, uint32_t in, uint8_t *dst, uint32_t out,
			 const struct mli__taps *t)
{
	/* Four taps at a time: 16 bytes from pixel p hold pixels p .. p+3
	 * (12 bytes); the low lane gathers (R, G, B) of taps 0 and 1 as
	 * int16 pairs, the high lane those of taps 2 and 3. */
	const __m256i shuf = _mm256_setr_epi8(
		0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
		6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
	const __m256i widx = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
	const size_t row = (size_t)in * 3;

	for (uint32_t i = 0; i < out; i++) {
		const uint32_t first = t->first[i], n4 = (t->n[i] + 3) & ~3u;
		const int16_t *w = t->w + (size_t)i * t->k;

		/* The last 16-byte load must stay inside the row; pixels past
		 * the filter's taps are read but weighted zero. */
		if ((size_t)(first + n4 - 4) * 3 + 16 > row) {
			const uint8_t *s = src + (size_t)first * 3;
			int32_t a = HALF, b = HALF, d = HALF;
			for (uint32_t j = 0; j < t->n[i]; j++, s += 3) {
				a += s[0] * w[j];
				b += s[1] * w[j];
				d += s[2] * w[j];
			}
			dst[3 * i] = clip8(a);
			dst[3 * i + 1] = clip8(b);
			dst[3 * i + 2] = clip8(d);
			continue;
		}
		__m256i acc = _mm256_setzero_si256();
		for (uint32_t j = 0; j < n4; j += 4) {
			__m128i px = _mm_loadu_si128((const __m128i *)(src + (size_t)(first + j) * 3));
			__m256i v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(px), shuf);
			/* Weights of taps 0, 1 as one int32 across the low lane,
			 * of taps 2, 3 across the high lane. */
			__m256i wv = _mm256_permutevar8x32_epi32(
				_mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(w + j))), widx);
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, wv));
		}
		__m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		sum = _mm_srai_epi32(_mm_add_epi32(sum, _mm_set1_epi32(HALF)), BITS);
		sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);
		uint32_t rgb = (uint32_t)_mm_cvtsi128_si32(sum);
		memcpy(dst + 3 * i, &rgb, 3);
	}
}

void mli__resize_v_avx2(const uint8_t *src, size_t stride, size_t len, uint32_t n,
			const int16_t *w, uint8_t *dst)
{
	const __m256i zero = _mm256_setzero_si256(), half = _mm256_set1_epi32(HALF);
	size_t x = 0;

	for (; x + 32 <= len; x += 32) {
		__m256i a0 = half, a1 = half, a2 = half, a3 = half;
		uint32_t j = 0;
		for (; j < n; j += 2) {
			/* Rows j and j + 1 interleaved byte by byte, then widened:
			 * int16 pairs (row j, row j + 1) for madd. A lone last row
			 * is paired with zeros. */
			__m256i r0 = _mm256_loadu_si256((const __m256i *)(src + (size_t)j * stride + x));
			__m256i r1 = j + 1 < n ? _mm256_loadu_si256((const __m256i *)(src + (size_t)(j + 1) * stride + x))
					       : zero;
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
			a += src[(size_t)j * stride + x] * w[j];
		dst[x] = clip8(a);
	}
}

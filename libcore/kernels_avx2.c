/* kernels_avx2.c: AVX2/FMA kernels. This file alone is compiled with
 * -mavx2 -mfma; kernels.c calls it only on a CPU that has both. */
#include <immintrin.h>

#include "kernels_impl.h"

void mli__u8_to_f32_avx2(const uint8_t *src, float *dst, size_t n, float scale, float bias)
{
	const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(bias);
	size_t i = 0;

	/* Eight bytes widen to eight floats. A multiply then an add, not an
	 * FMA: rounding twice, as the reference does, keeps the two tables
	 * bit-identical, so a run gives the same input on any CPU. */
	for (; i + 8 <= n; i += 8) {
		__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(src + i));
		__m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
		_mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_mul_ps(x, vs), vb));
	}
	for (; i < n; i++)
		dst[i] = (float)src[i] * scale + bias;
}

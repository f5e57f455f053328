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

/* The 6 x 16 SGEMM micro-kernel: twelve accumulators (6 rows x two
 * 8-float halves), two B loads and six A broadcasts per k step, so
 * 12 FMAs per 8 loads, which two FMA pipes and three load ports keep
 * busy; twelve independent chains cover the FMA latency (4 cycles x 2
 * pipes). The loop is unrolled by four; the next B strip lines are
 * prefetched. A may be packed or read in place (see kernels.h). */
void mli__sgemm_ukr_avx2(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			 float *c, size_t ldc, int accumulate)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
	__m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
	__m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
	__m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
	__m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
	__m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
	const size_t rs3 = 3 * a_rs, rs5 = 5 * a_rs;
	size_t p = 0;

#define STEP(u)                                                               \
	do {                                                                  \
		__m256 b0 = _mm256_loadu_ps(b + 16 * (u));                    \
		__m256 b1 = _mm256_loadu_ps(b + 16 * (u) + 8);                \
		__m256 av;                                                    \
		av = _mm256_broadcast_ss(a + (u) * a_cs + 0);                    \
		c00 = _mm256_fmadd_ps(av, b0, c00);                           \
		c01 = _mm256_fmadd_ps(av, b1, c01);                           \
		av = _mm256_broadcast_ss(a + (u) * a_cs + a_rs);                    \
		c10 = _mm256_fmadd_ps(av, b0, c10);                           \
		c11 = _mm256_fmadd_ps(av, b1, c11);                           \
		av = _mm256_broadcast_ss(a + (u) * a_cs + 2 * a_rs);                    \
		c20 = _mm256_fmadd_ps(av, b0, c20);                           \
		c21 = _mm256_fmadd_ps(av, b1, c21);                           \
		av = _mm256_broadcast_ss(a + (u) * a_cs + rs3);                    \
		c30 = _mm256_fmadd_ps(av, b0, c30);                           \
		c31 = _mm256_fmadd_ps(av, b1, c31);                           \
		av = _mm256_broadcast_ss(a + (u) * a_cs + 4 * a_rs);                    \
		c40 = _mm256_fmadd_ps(av, b0, c40);                           \
		c41 = _mm256_fmadd_ps(av, b1, c41);                           \
		av = _mm256_broadcast_ss(a + (u) * a_cs + rs5);                    \
		c50 = _mm256_fmadd_ps(av, b0, c50);                           \
		c51 = _mm256_fmadd_ps(av, b1, c51);                           \
	} while (0)

	for (; p + 4 <= kc; p += 4) {
		_mm_prefetch((const char *)(b + 64 * 4), _MM_HINT_T0);
		_mm_prefetch((const char *)(b + 64 * 4 + 16), _MM_HINT_T0);
		_mm_prefetch((const char *)(b + 64 * 4 + 32), _MM_HINT_T0);
		_mm_prefetch((const char *)(b + 64 * 4 + 48), _MM_HINT_T0);
		STEP(0);
		STEP(1);
		STEP(2);
		STEP(3);
		a += 4 * a_cs;
		b += 64;
	}
	for (; p < kc; p++) {
		STEP(0);
		a += a_cs;
		b += 16;
	}
#undef STEP

#define ROW(r, lo, hi)                                                        \
	do {                                                                  \
		float *cr = c + (r) * ldc;                                    \
		if (accumulate) {                                             \
			lo = _mm256_add_ps(_mm256_loadu_ps(cr), lo);          \
			hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), hi);      \
		}                                                             \
		_mm256_storeu_ps(cr, lo);                                     \
		_mm256_storeu_ps(cr + 8, hi);                                 \
	} while (0)
	ROW(0, c00, c01);
	ROW(1, c10, c11);
	ROW(2, c20, c21);
	ROW(3, c30, c31);
	ROW(4, c40, c41);
	ROW(5, c50, c51);
#undef ROW
}

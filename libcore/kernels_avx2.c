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
 * pipes); B is prefetched 16 steps ahead. A may be packed or read in
 * place (see kernels.h): the two layouts get their own loops, so that
 * every A address is a pointer plus a constant (with both strides as
 * variables GCC ran out of registers and reloaded offsets from the
 * stack inside the loop: -10%). Measured on Zen 5, best of 3: the
 * six-row loop wants unrolling by four (one pointer bump per four
 * steps: 119 against 89 GFLOP/s on one core), the packed loop does best
 * not unrolled (119 against 112: unrolled, GCC spills an accumulator). */
#define UKR_STEP(u, A0, A1, A2, A3, A4, A5)                                  \
	do {                                                                  \
		__m256 b0 = _mm256_loadu_ps(b + 16 * (u));                    \
		__m256 b1 = _mm256_loadu_ps(b + 16 * (u) + 8);                \
		__m256 av;                                                    \
		av = _mm256_broadcast_ss(A0);                                 \
		c00 = _mm256_fmadd_ps(av, b0, c00);                           \
		c01 = _mm256_fmadd_ps(av, b1, c01);                           \
		av = _mm256_broadcast_ss(A1);                                 \
		c10 = _mm256_fmadd_ps(av, b0, c10);                           \
		c11 = _mm256_fmadd_ps(av, b1, c11);                           \
		av = _mm256_broadcast_ss(A2);                                 \
		c20 = _mm256_fmadd_ps(av, b0, c20);                           \
		c21 = _mm256_fmadd_ps(av, b1, c21);                           \
		av = _mm256_broadcast_ss(A3);                                 \
		c30 = _mm256_fmadd_ps(av, b0, c30);                           \
		c31 = _mm256_fmadd_ps(av, b1, c31);                           \
		av = _mm256_broadcast_ss(A4);                                 \
		c40 = _mm256_fmadd_ps(av, b0, c40);                           \
		c41 = _mm256_fmadd_ps(av, b1, c41);                           \
		av = _mm256_broadcast_ss(A5);                                 \
		c50 = _mm256_fmadd_ps(av, b0, c50);                           \
		c51 = _mm256_fmadd_ps(av, b1, c51);                           \
	} while (0)

#define UKR_PREFETCH_B()                                                      \
	do {                                                                  \
		_mm_prefetch((const char *)(b + 256), _MM_HINT_T0);           \
		_mm_prefetch((const char *)(b + 272), _MM_HINT_T0);           \
		_mm_prefetch((const char *)(b + 288), _MM_HINT_T0);           \
		_mm_prefetch((const char *)(b + 304), _MM_HINT_T0);           \
	} while (0)

void mli__sgemm_ukr_avx2(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			 float *c, size_t ldc, int accumulate)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
	__m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
	__m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
	__m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
	__m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
	__m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
	size_t p = 0;

	if (a_rs == 1) {
		/* Six consecutive floats per k step (packed, or transposed A
		 * read in place), a_cs apart. */
		for (; p < kc; p++) {
			_mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
			UKR_STEP(0, a, a + 1, a + 2, a + 3, a + 4, a + 5);
			a += a_cs;
			b += 16;
		}
	} else {
		/* Six rows, a_rs apart, each read along k (a_cs is 1). */
		const float *r0 = a, *r1 = a + a_rs, *r2 = r1 + a_rs, *r3 = r2 + a_rs;
		const float *r4 = r3 + a_rs, *r5 = r4 + a_rs;
		for (; p + 4 <= kc; p += 4) {
			UKR_PREFETCH_B();
			UKR_STEP(0, r0, r1, r2, r3, r4, r5);
			UKR_STEP(1, r0 + 1, r1 + 1, r2 + 1, r3 + 1, r4 + 1, r5 + 1);
			UKR_STEP(2, r0 + 2, r1 + 2, r2 + 2, r3 + 2, r4 + 2, r5 + 2);
			UKR_STEP(3, r0 + 3, r1 + 3, r2 + 3, r3 + 3, r4 + 3, r5 + 3);
			r0 += 4, r1 += 4, r2 += 4, r3 += 4, r4 += 4, r5 += 4;
			b += 64;
		}
		for (; p < kc; p++) {
			UKR_STEP(0, r0, r1, r2, r3, r4, r5);
			r0++, r1++, r2++, r3++, r4++, r5++;
			b += 16;
		}
	}

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

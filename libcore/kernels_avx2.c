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
		 * read in place), a_cs apart. The prefetch 64 floats on is,
		 * for transposed A read in place, the line a strip ten or so on
		 * will want from this row (see kernels_avx512.c; 32 x 11166 x
		 * 2048: 82 -> 107 GF/s on one core). */
		for (; p < kc; p++) {
			_mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
			_mm_prefetch((const char *)(a + 64), _MM_HINT_T0);
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

/* The batch-norm pieces, eight channels per lane group, each operation
 * the one the reference does (no FMA), so the results are bit-identical
 * to kernels_ref.c; the channel tail runs the reference's scalar code.
 * Sums over rows keep their running totals in sum[]/sumsq[] themselves,
 * so any channel count works without a register budget. */
void mli__bn_sums_avx2(const float *x, size_t rows, size_t c, float *sum, float *sumsq)
{
	size_t c8 = c & ~(size_t)7;

	for (size_t j = 0; j < c; j++)
		sum[j] = sumsq[j] = 0.0f;
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		for (size_t j = 0; j < c8; j += 8) {
			__m256 v = _mm256_loadu_ps(xr + j);
			_mm256_storeu_ps(sum + j, _mm256_add_ps(_mm256_loadu_ps(sum + j), v));
			_mm256_storeu_ps(sumsq + j,
					 _mm256_add_ps(_mm256_loadu_ps(sumsq + j), _mm256_mul_ps(v, v)));
		}
		for (size_t j = c8; j < c; j++) {
			float v = xr[j], sq = v * v;
			sum[j] += v;
			sumsq[j] += sq;
		}
	}
}

void mli__scale_shift_avx2(const float *x, float *y, size_t rows, size_t c, const float *scale,
			   const float *shift, int relu)
{
	size_t c8 = c & ~(size_t)7;
	const __m256 zero = _mm256_setzero_ps();

	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		float *yr = y + r * c;
		for (size_t j = 0; j < c8; j += 8) {
			__m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + j),
							       _mm256_loadu_ps(scale + j)),
						 _mm256_loadu_ps(shift + j));
			/* max(v, 0) gives the second operand, +0, for NaN and -0,
			 * as the reference's !(v > 0) does. */
			_mm256_storeu_ps(yr + j, relu ? _mm256_max_ps(v, zero) : v);
		}
		for (size_t j = c8; j < c; j++)
			yr[j] = mli__scale_shift1(xr[j], scale[j], shift[j], relu);
	}
}

/* g: dy, zeroed where x * scale + shift <= 0 (as scale_shift computes
 * it) when scale is not NULL; i indexes the tensor, j the channels. */
static inline __m256 masked_grad(const float *x, const float *scale, const float *shift,
				 const float *dy, size_t i, size_t j)
{
	__m256 g = _mm256_loadu_ps(dy + i);
	if (!scale)
		return g;
	__m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(scale + j)),
				 _mm256_loadu_ps(shift + j));
	return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), g);
}

void mli__bn_grad_sums_avx2(const float *x, const float *scale, const float *shift,
			      const float *dy, size_t rows, size_t c,
			    const float *mean, const float *inv_std, float *sum_g, float *sum_gxh)
{
	size_t c8 = c & ~(size_t)7;

	for (size_t j = 0; j < c; j++)
		sum_g[j] = sum_gxh[j] = 0.0f;
	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < c8; j += 8) {
			size_t i = r * c + j;
			__m256 g = masked_grad(x, scale, shift, dy, i, j);
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(mean + j)),
						  _mm256_loadu_ps(inv_std + j));
			_mm256_storeu_ps(sum_g + j, _mm256_add_ps(_mm256_loadu_ps(sum_g + j), g));
			_mm256_storeu_ps(sum_gxh + j,
					 _mm256_add_ps(_mm256_loadu_ps(sum_gxh + j), _mm256_mul_ps(g, xh)));
		}
		for (size_t j = c8; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j], gx = g * xh;
			sum_g[j] += g;
			sum_gxh[j] += gx;
		}
	}
}

void mli__bn_grad_dx_avx2(const float *x, const float *scale, const float *shift,
			    const float *dy, float *dx, size_t rows,
			  size_t c, const float *mean, const float *inv_std, const float *gamma,
			  const float *mean_g, const float *mean_gxh)
{
	size_t c8 = c & ~(size_t)7;

	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < c8; j += 8) {
			size_t i = r * c + j;
			__m256 g = masked_grad(x, scale, shift, dy, i, j);
			__m256 is = _mm256_loadu_ps(inv_std + j);
			__m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(mean + j)), is);
			__m256 t = _mm256_mul_ps(xh, _mm256_loadu_ps(mean_gxh + j));
			__m256 u = _mm256_sub_ps(g, _mm256_loadu_ps(mean_g + j));
			__m256 k = _mm256_mul_ps(_mm256_loadu_ps(gamma + j), is);
			_mm256_storeu_ps(dx + i, _mm256_mul_ps(k, _mm256_sub_ps(u, t)));
		}
		for (size_t j = c8; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j];
			float t = xh * mean_gxh[j], u = g - mean_g[j], k = gamma[j] * inv_std[j];
			dx[i] = k * (u - t);
		}
	}
}

void mli__relu_avx2(const float *x, float *y, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), _mm256_setzero_ps()));
	for (; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mli__relu_grad_avx2(const float *y, const float *dy, float *dx, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dx + i, _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(y + i),
								     _mm256_setzero_ps(), _CMP_GT_OQ),
						       _mm256_loadu_ps(dy + i)));
	for (; i < n; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void mli__add_avx2(const float *a, const float *b, float *y, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
	for (; i < n; i++)
		y[i] = a[i] + b[i];
}

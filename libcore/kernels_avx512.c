/* kernels_avx512.c: AVX-512 kernels. This file alone is compiled with
 * the AVX-512 flags (F, DQ, BW, VL); kernels.c calls it only on a CPU
 * whose OS saves the zmm state (see cpu.c). */
#include <immintrin.h>

#include "kernels_impl.h"

/* The 14 x 32 SGEMM micro-kernel: 28 accumulators (14 rows x two
 * 16-float halves) in 28 of the 32 zmm registers, two B loads and 14 A
 * broadcasts per k step, so 28 FMAs per 16 loads; 28 independent chains
 * are far more than the FMA latency times the pipes. Against the AVX2
 * 6 x 16 kernel each B strip in L1 serves 14 rows, not 6, and each A
 * element 32 columns, not 16, so loads per FMA fall from 0.67 to 0.57
 * at twice the width. Every C element is summed over k in order from
 * zero, one FMA per step, as the AVX2 kernel does (so the two tables
 * agree bit for bit on the same blocking).
 *
 * The row layout (a_cs == 1) reads 14 rows a_rs apart through five
 * base pointers, each plus 0, 1 or 2 row strides (an index register
 * scaled in the address), so that the loop needs no more pointers than
 * x86-64 has registers. */
#define S(r, A)                                                               \
	do {                                                                  \
		__m512 av = _mm512_set1_ps(A);                                \
		c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                   \
		c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                   \
	} while (0)

#define DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps()

/* One k step; R(i, u) names A's row i at step offset u. */
#define STEP(u)                                                               \
	do {                                                                  \
		__m512 b0 = _mm512_loadu_ps(b + 32 * (u));                    \
		__m512 b1 = _mm512_loadu_ps(b + 32 * (u) + 16);               \
		S(0, R(0, u)); S(1, R(1, u)); S(2, R(2, u)); S(3, R(3, u));   \
		S(4, R(4, u)); S(5, R(5, u)); S(6, R(6, u)); S(7, R(7, u));   \
		S(8, R(8, u)); S(9, R(9, u)); S(a, R(10, u)); S(b, R(11, u)); \
		S(c, R(12, u)); S(d, R(13, u));                               \
	} while (0)

void mli__sgemm_ukr_avx512(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			   float *c, size_t ldc, int accumulate)
{
	DECL(0); DECL(1); DECL(2); DECL(3); DECL(4); DECL(5); DECL(6);
	DECL(7); DECL(8); DECL(9); DECL(a); DECL(b); DECL(c); DECL(d);
	size_t p = 0;

	/* The C tile is asked for now, to be there when the sums are
	 * stored: in a large C each of its 14 rows is a miss to L3 or
	 * memory, which stalled the end of every call (+3..5% on 2048^3,
	 * one core). */
	for (size_t r = 0; r < 14; r++) {
		_mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
	}
	if (a_rs == 1) {
		/* Fourteen consecutive floats per k step (packed, or
		 * transposed A read in place), a_cs apart. The prefetch 64
		 * floats on is, for transposed A read in place (gemm.c's
		 * transposed classifier products), the line a strip four or
		 * five on will want from this row: one row per k step, with a
		 * new line every few strips, were misses to memory one after
		 * the other (32 x 11166 x 2048: 150 -> 227 GF/s on one core);
		 * for a packed strip it is a line this call reads soon anyway. */
#define R(i, u) a[(i)]
		for (; p < kc; p++) {
			_mm_prefetch((const char *)(b + 512), _MM_HINT_T0);
			_mm_prefetch((const char *)(b + 528), _MM_HINT_T0);
			_mm_prefetch((const char *)(a + 64), _MM_HINT_T0);
			STEP(0);
			a += a_cs;
			b += 32;
		}
#undef R
	} else {
		/* Fourteen rows, a_rs apart, each read along k (a_cs is 1). */
		const char *p0 = (const char *)a, *p1 = p0 + 3 * a_rs * sizeof(float);
		const char *p2 = p1 + 3 * a_rs * sizeof(float), *p3 = p2 + 3 * a_rs * sizeof(float);
		const char *p4 = p3 + 3 * a_rs * sizeof(float);
		size_t rs = a_rs * sizeof(float);
#define RP(base, j, u) (*(const float *)((base) + (j) * rs + 4 * (u)))
#define R(i, u) RP((i) < 3 ? p0 : (i) < 6 ? p1 : (i) < 9 ? p2 : (i) < 12 ? p3 : p4, (i) % 3, u)
		for (; p + 4 <= kc; p += 4) {
			_mm_prefetch((const char *)(b + 512), _MM_HINT_T0);
			_mm_prefetch((const char *)(b + 528), _MM_HINT_T0);
			STEP(0);
			_mm_prefetch((const char *)(b + 544), _MM_HINT_T0);
			_mm_prefetch((const char *)(b + 560), _MM_HINT_T0);
			STEP(1);
			_mm_prefetch((const char *)(b + 576), _MM_HINT_T0);
			_mm_prefetch((const char *)(b + 592), _MM_HINT_T0);
			STEP(2);
			_mm_prefetch((const char *)(b + 608), _MM_HINT_T0);
			_mm_prefetch((const char *)(b + 624), _MM_HINT_T0);
			STEP(3);
			p0 += 16, p1 += 16, p2 += 16, p3 += 16, p4 += 16;
			b += 128;
		}
		for (; p < kc; p++) {
			STEP(0);
			p0 += 4, p1 += 4, p2 += 4, p3 += 4, p4 += 4;
			b += 32;
		}
#undef R
#undef RP
	}

#define ROW(r)                                                                \
	do {                                                                  \
		float *cr = c + 0x##r * ldc;                                  \
		if (accumulate) {                                             \
			c##r##0 = _mm512_add_ps(_mm512_loadu_ps(cr), c##r##0);        \
			c##r##1 = _mm512_add_ps(_mm512_loadu_ps(cr + 16), c##r##1);   \
		}                                                             \
		_mm512_storeu_ps(cr, c##r##0);                                \
		_mm512_storeu_ps(cr + 16, c##r##1);                           \
	} while (0)
	ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6);
	ROW(7); ROW(8); ROW(9); ROW(a); ROW(b); ROW(c); ROW(d);
#undef ROW
}

void mli__u8_to_f32_avx512(const uint8_t *src, float *dst, size_t n, float scale, float bias)
{
	const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(bias);
	size_t i = 0;

	/* A multiply then an add, as the reference (see kernels_avx2.c). */
	for (; i + 16 <= n; i += 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
		_mm512_storeu_ps(dst + i, _mm512_add_ps(_mm512_mul_ps(x, vs), vb));
	}
	for (; i < n; i++)
		dst[i] = (float)src[i] * scale + bias;
}

/* The batch-norm pieces, sixteen channels per vector, each operation the
 * one the reference does (no FMA), so the results are bit-identical to
 * kernels_ref.c and kernels_avx2.c; the channel tail runs the
 * reference's scalar code. The loops have the AVX2 versions' shape
 * (rows outer, running totals kept in sum[] itself): masked tails and
 * channel-major sums with totals in registers were measured 1.3-2.2x
 * slower on Zen 5 (masked stores, and strided rows within a block). */
void mli__bn_sums_avx512(const float *x, size_t rows, size_t c, float *sum, float *sumsq)
{
	size_t c16 = c & ~(size_t)15;

	for (size_t j = 0; j < c; j++)
		sum[j] = sumsq[j] = 0.0f;
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		for (size_t j = 0; j < c16; j += 16) {
			__m512 v = _mm512_loadu_ps(xr + j);
			_mm512_storeu_ps(sum + j, _mm512_add_ps(_mm512_loadu_ps(sum + j), v));
			_mm512_storeu_ps(sumsq + j,
					 _mm512_add_ps(_mm512_loadu_ps(sumsq + j), _mm512_mul_ps(v, v)));
		}
		for (size_t j = c16; j < c; j++) {
			float v = xr[j], sq = v * v;
			sum[j] += v;
			sumsq[j] += sq;
		}
	}
}

void mli__scale_shift_avx512(const float *x, float *y, size_t rows, size_t c, const float *scale,
			     const float *shift, int relu)
{
	size_t c16 = c & ~(size_t)15;
	const __m512 zero = _mm512_setzero_ps();

	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * c;
		float *yr = y + r * c;
		for (size_t j = 0; j < c16; j += 16) {
			__m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + j),
							       _mm512_loadu_ps(scale + j)),
						 _mm512_loadu_ps(shift + j));
			/* max(v, 0) gives the second operand, +0, for NaN and -0,
			 * as the reference's !(v > 0) does. */
			_mm512_storeu_ps(yr + j, relu ? _mm512_max_ps(v, zero) : v);
		}
		for (size_t j = c16; j < c; j++)
			yr[j] = mli__scale_shift1(xr[j], scale[j], shift[j], relu);
	}
}

/* g: dy, zeroed where x * scale + shift <= 0 (as scale_shift computes
 * it) when scale is not NULL; i indexes the tensor, j the channels. */
static inline __m512 masked_grad(const float *x, const float *scale, const float *shift,
				 const float *dy, size_t i, size_t j)
{
	__m512 g = _mm512_loadu_ps(dy + i);
	if (!scale)
		return g;
	__m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(scale + j)),
				 _mm512_loadu_ps(shift + j));
	return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), g);
}

void mli__bn_grad_sums_avx512(const float *x, const float *scale, const float *shift,
			      const float *dy, size_t rows,
			      size_t c, const float *mean, const float *inv_std, float *sum_g,
			      float *sum_gxh)
{
	size_t c16 = c & ~(size_t)15;

	for (size_t j = 0; j < c; j++)
		sum_g[j] = sum_gxh[j] = 0.0f;
	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < c16; j += 16) {
			size_t i = r * c + j;
			__m512 g = masked_grad(x, scale, shift, dy, i, j);
			__m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(mean + j)),
						  _mm512_loadu_ps(inv_std + j));
			_mm512_storeu_ps(sum_g + j, _mm512_add_ps(_mm512_loadu_ps(sum_g + j), g));
			_mm512_storeu_ps(sum_gxh + j,
					 _mm512_add_ps(_mm512_loadu_ps(sum_gxh + j), _mm512_mul_ps(g, xh)));
		}
		for (size_t j = c16; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j], gx = g * xh;
			sum_g[j] += g;
			sum_gxh[j] += gx;
		}
	}
}

void mli__bn_grad_dx_avx512(const float *x, const float *scale, const float *shift,
			    const float *dy, float *dx,
			    size_t rows, size_t c, const float *mean, const float *inv_std,
			    const float *gamma, const float *mean_g, const float *mean_gxh)
{
	size_t c16 = c & ~(size_t)15;

	for (size_t r = 0; r < rows; r++) {
		for (size_t j = 0; j < c16; j += 16) {
			size_t i = r * c + j;
			__m512 g = masked_grad(x, scale, shift, dy, i, j);
			__m512 is = _mm512_loadu_ps(inv_std + j);
			__m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(mean + j)), is);
			__m512 t = _mm512_mul_ps(xh, _mm512_loadu_ps(mean_gxh + j));
			__m512 u = _mm512_sub_ps(g, _mm512_loadu_ps(mean_g + j));
			__m512 k = _mm512_mul_ps(_mm512_loadu_ps(gamma + j), is);
			_mm512_storeu_ps(dx + i, _mm512_mul_ps(k, _mm512_sub_ps(u, t)));
		}
		for (size_t j = c16; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j];
			float t = xh * mean_gxh[j], u = g - mean_g[j], k = gamma[j] * inv_std[j];
			dx[i] = k * (u - t);
		}
	}
}

void mli__relu_avx512(const float *x, float *y, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_loadu_ps(x + i), _mm512_setzero_ps()));
	for (; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mli__relu_grad_avx512(const float *y, const float *dy, float *dx, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dx + i, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(y + i),
									      _mm512_setzero_ps(),
									      _CMP_GT_OQ),
							     _mm512_loadu_ps(dy + i)));
	for (; i < n; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void mli__add_avx512(const float *a, const float *b, float *y, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
	for (; i < n; i++)
		y[i] = a[i] + b[i];
}

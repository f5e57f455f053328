/* kernels_ref.c: the portable reference kernels. Plain C on purpose: they
 * are what every optimised kernel is tested against. */
#include "kernels_impl.h"

void mli__u8_to_f32_ref(const uint8_t *src, float *dst, size_t n, float scale, float bias)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)src[i] * scale + bias;
}

void mli__sgemm_ukr_ref(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			float *c, size_t ldc, int accumulate)
{
	enum { MR = MLI_SGEMM_REF_MR, NR = MLI_SGEMM_REF_NR };
	float acc[MR][NR] = { { 0 } };

	for (size_t p = 0; p < kc; p++)
		for (size_t r = 0; r < MR; r++)
			for (size_t q = 0; q < NR; q++)
				acc[r][q] += a[r * a_rs + p * a_cs] * b[p * NR + q];
	for (size_t r = 0; r < MR; r++)
		for (size_t q = 0; q < NR; q++)
			c[r * ldc + q] = accumulate ? c[r * ldc + q] + acc[r][q] : acc[r][q];
}

/* The batch-norm pieces. Every operation is written out in the order
 * the AVX2 versions do it, one rounding each, so the tables agree bit
 * for bit. */
void mli__bn_sums_ref(const float *x, size_t rows, size_t c, float *sum, float *sumsq)
{
	for (size_t j = 0; j < c; j++)
		sum[j] = sumsq[j] = 0.0f;
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < c; j++) {
			float v = x[r * c + j], sq = v * v;
			sum[j] += v;
			sumsq[j] += sq;
		}
}

void mli__scale_shift_ref(const float *x, float *y, size_t rows, size_t c, const float *scale,
			  const float *shift, int relu)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < c; j++)
			y[r * c + j] = mli__scale_shift1(x[r * c + j], scale[j], shift[j], relu);
}

void mli__bn_grad_sums_ref(const float *x, const float *scale, const float *shift,
			   const float *dy, size_t rows, size_t c,
			   const float *mean, const float *inv_std, float *sum_g, float *sum_gxh)
{
	for (size_t j = 0; j < c; j++)
		sum_g[j] = sum_gxh[j] = 0.0f;
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j], gx = g * xh;
			sum_g[j] += g;
			sum_gxh[j] += gx;
		}
}

void mli__bn_grad_dx_ref(const float *x, const float *scale, const float *shift,
			 const float *dy, float *dx, size_t rows,
			 size_t c, const float *mean, const float *inv_std, const float *gamma,
			 const float *mean_g, const float *mean_gxh)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < c; j++) {
			size_t i = r * c + j;
			float g = mli__masked_grad1(x[i], scale, shift, j, dy[i]);
			float d = x[i] - mean[j], xh = d * inv_std[j];
			float t = xh * mean_gxh[j], u = g - mean_g[j], k = gamma[j] * inv_std[j];
			dx[i] = k * (u - t);
		}
}

void mli__relu_ref(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mli__relu_grad_ref(const float *y, const float *dy, float *dx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void mli__add_ref(const float *a, const float *b, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}

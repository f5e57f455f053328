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

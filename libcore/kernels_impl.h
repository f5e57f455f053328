/* kernels_impl.h: the per-instruction-set kernel entry points, for
 * kernels.c's tables only. */
#ifndef MLI_KERNELS_IMPL_H
#define MLI_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

void mli__u8_to_f32_ref(const uint8_t *src, float *dst, size_t n, float scale, float bias);
void mli__u8_to_f32_avx2(const uint8_t *src, float *dst, size_t n, float scale, float bias);
void mli__u8_to_f32_avx512(const uint8_t *src, float *dst, size_t n, float scale, float bias);

/* The SGEMM micro-kernels and their tile sizes (see kernels.h). */
#define MLI_SGEMM_REF_MR 6
#define MLI_SGEMM_REF_NR 16
void mli__sgemm_ukr_ref(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			float *c, size_t ldc, int accumulate);
#define MLI_SGEMM_AVX2_MR 6
#define MLI_SGEMM_AVX2_NR 16
void mli__sgemm_ukr_avx2(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			 float *c, size_t ldc, int accumulate);
#define MLI_SGEMM_AVX512_MR 14
#define MLI_SGEMM_AVX512_NR 32
void mli__sgemm_ukr_avx512(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			   float *c, size_t ldc, int accumulate);

/* Batch norm, ReLU and add pieces (see kernels.h). */
void mli__bn_sums_ref(const float *x, size_t rows, size_t c, float *sum, float *sumsq);
void mli__scale_shift_ref(const float *x, float *y, size_t rows, size_t c, const float *scale,
			 const float *shift, int relu);
void mli__bn_grad_sums_ref(const float *x, const float *y, const float *dy, size_t rows, size_t c,
			  const float *mean, const float *inv_std, float *sum_g, float *sum_gxh);
void mli__bn_grad_dx_ref(const float *x, const float *y, const float *dy, float *dx, size_t rows,
			size_t c, const float *mean, const float *inv_std, const float *gamma,
			const float *mean_g, const float *mean_gxh);
void mli__relu_ref(const float *x, float *y, size_t n);
void mli__relu_grad_ref(const float *y, const float *dy, float *dx, size_t n);
void mli__add_ref(const float *a, const float *b, float *y, size_t n);
void mli__bn_sums_avx2(const float *x, size_t rows, size_t c, float *sum, float *sumsq);
void mli__scale_shift_avx2(const float *x, float *y, size_t rows, size_t c, const float *scale,
			 const float *shift, int relu);
void mli__bn_grad_sums_avx2(const float *x, const float *y, const float *dy, size_t rows, size_t c,
			  const float *mean, const float *inv_std, float *sum_g, float *sum_gxh);
void mli__bn_grad_dx_avx2(const float *x, const float *y, const float *dy, float *dx, size_t rows,
			size_t c, const float *mean, const float *inv_std, const float *gamma,
			const float *mean_g, const float *mean_gxh);
void mli__relu_avx2(const float *x, float *y, size_t n);
void mli__relu_grad_avx2(const float *y, const float *dy, float *dx, size_t n);
void mli__add_avx2(const float *a, const float *b, float *y, size_t n);
void mli__bn_sums_avx512(const float *x, size_t rows, size_t c, float *sum, float *sumsq);
void mli__scale_shift_avx512(const float *x, float *y, size_t rows, size_t c, const float *scale,
			     const float *shift, int relu);
void mli__bn_grad_sums_avx512(const float *x, const float *y, const float *dy, size_t rows,
			      size_t c, const float *mean, const float *inv_std, float *sum_g,
			      float *sum_gxh);
void mli__bn_grad_dx_avx512(const float *x, const float *y, const float *dy, float *dx,
			    size_t rows, size_t c, const float *mean, const float *inv_std,
			    const float *gamma, const float *mean_g, const float *mean_gxh);
void mli__relu_avx512(const float *x, float *y, size_t n);
void mli__relu_grad_avx512(const float *y, const float *dy, float *dx, size_t n);
void mli__add_avx512(const float *a, const float *b, float *y, size_t n);

#endif

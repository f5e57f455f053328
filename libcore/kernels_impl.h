/* kernels_impl.h: the per-instruction-set kernel entry points, for
 * kernels.c's tables only. Every instruction set ISA (ref, avx2, avx512)
 * has the same set, named mli__NAME_ISA, with the signatures of struct
 * mli_kernels (see kernels.h for what each does). */
#ifndef MLI_KERNELS_IMPL_H
#define MLI_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* The scalar tails of the row kernels, one copy for every table, so that
 * each rounds as the others do. One channel's norm: x * scale + shift as
 * a product, then a sum (no fused multiply-add), then ReLU when relu
 * (NaN and -0 give +0, as the vector max(v, 0) does). */
static inline float mli__scale_shift1(float x, float scale, float shift, int relu)
{
	float m = x * scale, v = m + shift;
	return relu && !(v > 0.0f) ? 0.0f : v;
}

/* dy, or 0 where the ReLU after the norm gave 0 when scale is not NULL
 * (channel j). */
static inline float mli__masked_grad1(float x, const float *scale, const float *shift, size_t j,
				      float dy)
{
	return scale && !(mli__scale_shift1(x, scale[j], shift[j], 0) > 0.0f) ? 0.0f : dy;
}

#define MLI_KERNELS_DECLARE(isa)                                                            \
	void mli__u8_to_f32_##isa(const uint8_t *src, float *dst, size_t n, float scale,   \
				  float bias);                                              \
	void mli__sgemm_ukr_##isa(size_t kc, const float *a, size_t a_rs, size_t a_cs,     \
				  const float *b, float *c, size_t ldc, int accumulate);    \
	void mli__bn_sums_##isa(const float *x, size_t rows, size_t c, float *sum,         \
				float *sumsq);                                              \
	void mli__scale_shift_##isa(const float *x, float *y, size_t rows, size_t c,       \
				    const float *scale, const float *shift, int relu);      \
	void mli__bn_grad_sums_##isa(const float *x, const float *scale, const float *shift,\
				     const float *dy, size_t rows, size_t c,               \
				     const float *mean, const float *inv_std,              \
				     float *sum_g, float *sum_gxh);                        \
	void mli__bn_grad_dx_##isa(const float *x, const float *scale, const float *shift,  \
				   const float *dy, float *dx, size_t rows, size_t c,      \
				   const float *mean,                                      \
				   const float *inv_std, const float *gamma,               \
				   const float *mean_g, const float *mean_gxh);            \
	void mli__relu_##isa(const float *x, float *y, size_t n);                          \
	void mli__relu_grad_##isa(const float *y, const float *dy, float *dx, size_t n);   \
	void mli__add_##isa(const float *a, const float *b, float *y, size_t n);           \
	void mli__wino_in_##isa(const float *x, size_t h, size_t w, size_t ch, size_t t0,  \
				size_t t1, const float *zero, float *v, size_t ld,          \
				size_t rs);                                                 \
	void mli__wino_out_##isa(const float *m, size_t ld, size_t rs, size_t h, size_t w, \
				 size_t ch, size_t t0, size_t t1, float *y);                \
	void mli__wino_dy_##isa(const float *dy, size_t h, size_t w, size_t ch, size_t t0, \
				size_t t1, const float *zero, float *dm, size_t ld,         \
				size_t rs);                                                 \
	void mli__wino_filter_##isa(const float *wt, size_t c, size_t k, size_t c0,       \
				    size_t c1, float *u, size_t ld);                        \
	void mli__wino_filter_grad_##isa(const float *du, size_t ld, size_t rs, size_t c, \
					 size_t k, size_t c0, size_t c1, float *dwt);

MLI_KERNELS_DECLARE(ref)
MLI_KERNELS_DECLARE(avx2)
MLI_KERNELS_DECLARE(avx512)

/* The SGEMM micro-kernels' tile sizes (see kernels.h). */
#define MLI_SGEMM_REF_MR 6
#define MLI_SGEMM_REF_NR 16
#define MLI_SGEMM_AVX2_MR 6
#define MLI_SGEMM_AVX2_NR 16
#define MLI_SGEMM_AVX512_MR 14
#define MLI_SGEMM_AVX512_NR 32

#endif

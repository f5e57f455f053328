/* kernels_impl.h: the per-instruction-set kernel entry points, for
 * kernels.c's tables only. */
#ifndef MLI_KERNELS_IMPL_H
#define MLI_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

void mli__u8_to_f32_ref(const uint8_t *src, float *dst, size_t n, float scale, float bias);
void mli__u8_to_f32_avx2(const uint8_t *src, float *dst, size_t n, float scale, float bias);

/* The SGEMM micro-kernels and their tile sizes (see kernels.h). */
#define MLI_SGEMM_REF_MR 6
#define MLI_SGEMM_REF_NR 16
void mli__sgemm_ukr_ref(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			float *c, size_t ldc, int accumulate);
#define MLI_SGEMM_AVX2_MR 6
#define MLI_SGEMM_AVX2_NR 16
void mli__sgemm_ukr_avx2(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			 float *c, size_t ldc, int accumulate);

#endif

/* kernels_impl.h: the per-instruction-set kernel entry points, for
 * kernels.c's tables only. */
#ifndef MLI_KERNELS_IMPL_H
#define MLI_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

void mli__u8_to_f32_ref(const uint8_t *src, float *dst, size_t n, float scale, float bias);
void mli__u8_to_f32_avx2(const uint8_t *src, float *dst, size_t n, float scale, float bias);

#endif

/* kernels_ref.c: the portable reference kernels. Plain C on purpose: they
 * are what every optimised kernel is tested against. */
#include "kernels_impl.h"

void mli__u8_to_f32_ref(const uint8_t *src, float *dst, size_t n, float scale, float bias)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)src[i] * scale + bias;
}

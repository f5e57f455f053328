/* augment_impl.h: the colour kernels of augment.c, shared by the portable
 * and the AVX2 versions (augment_avx2.c, built with -mavx2 -mfma).
 *
 * Both do the same IEEE float operations in the same order (no fused
 * multiply-adds: the library is built as ISO C, where contraction is off,
 * and the intrinsics name each multiply and add), so they give the same
 * bytes; tests/unit-augment compares them. Between the two passes,
 * augment.c sums each channel of f, in double and in pixel order. */
#ifndef MLI_AUGMENT_IMPL_H
#define MLI_AUGMENT_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Pass 1: img [n, 3] (8-bit RGB) to f [3, n] (planar floats in units of
 * full scale). Order 1: brightness br, then saturation times sat and hue
 * turned by hue in one trip through HSV. Order 2: saturation, then
 * brightness (the hue is turned in pass 2). */
void mli__color_pass1_ref(const uint8_t *img, float *f, size_t n, int order, float br, float sat,
			  float hue);
void mli__color_pass1_avx2(const uint8_t *img, float *f, size_t n, int order, float br, float sat,
			   float hue);

/* Pass 2: contrast k about mean[3] (then, order 2, hue), clipped to
 * [0, 1] and rounded into dst [n, 3]. */
void mli__color_pass2_ref(const float *f, uint8_t *dst, size_t n, int order, float k,
			  const float mean[3], float hue);
void mli__color_pass2_avx2(const float *f, uint8_t *dst, size_t n, int order, float k,
			   const float mean[3], float hue);

/* The colour distortion with the reference kernels (simd 0) or the best
 * the CPU runs (simd 1). f holds [3, n] floats. */
void mli__color(const uint8_t *img, float *f, size_t n, int order, float br, float sat, float hue,
		float contrast, uint8_t *dst, int simd);

/* The rotation's rows (augment.c): output pixels j = 0..n-1 of a row of
 * src [n, n, c] rotated, pixel j read bilinearly at source position
 * (fx + j step_x, fy + j step_y) in 16.16 fixed point, black outside,
 * into out [n, c]. The AVX2 version takes c = 3 and n up to
 * MLI__ROTATE_AVX2_MAX (positions then fit in 32 bits), reads up to one
 * byte past the last pixel of src, and gives the same bytes. */
#define MLI__ROTATE_AVX2_MAX 8192
void mli__rotate_row_ref(const uint8_t *src, uint32_t n, uint32_t c, long fx, long fy,
			 long step_x, long step_y, uint8_t *out);
void mli__rotate_row3_avx2(const uint8_t *src, uint32_t n, long fx, long fy, long step_x,
			   long step_y, uint8_t *out);

/* One pixel of a rotated row, as the reference computes it. */
void mli__rotate_pixel(const uint8_t *src, uint32_t n, uint32_t c, long fx, long fy, uint8_t *out);

#endif

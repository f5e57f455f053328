/* augment.c: the training augmentation and the evaluation crops
 * (augment.h). Portable C, with the colour kernels and the rotation's rows
 * also in AVX2 (augment_avx2.c) and the resize libcore/resize.c's, both used where the
 * CPU has AVX2 and FMA unless MLI_KERNELS is "ref"; either way the same
 * bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "augment_impl.h"
#include "cpu.h"
#include "error.h"
#include "kernels.h"
#include "resize.h"

void mli_augment_defaults(struct mli_augment_params *p)
{
	p->area_min = 0.7;
	p->area_max = 1.0;
	p->aspect_min = 0.75;
	p->aspect_max = 1.33;
	p->attempts = 100;
	p->flip_prob = 0.5;
	p->rotate_prob = 1.0 / 3;
	p->rotate_max = 45;
	p->color_prob = 2.0 / 3;
	p->brightness = 32.0 / 255;
	p->saturation_min = 0.5;
	p->saturation_max = 1.5;
	p->hue = 0.2;
	p->contrast_min = 0.5;
	p->contrast_max = 1.5;
}

void mli_augment_draw(const struct mli_augment_params *p, struct mli_rng *rng, uint32_t src_h,
		      uint32_t src_w, struct mli_augment_draw *d)
{
	double area = (double)src_h * src_w, u;

	memset(d, 0, sizeof *d);
	d->whole = 1;
	d->w = src_w;
	d->h = src_h;
	for (int a = 0; a < p->attempts; a++) {
		double target = area * mli_rng_range(rng, p->area_min, p->area_max);
		double aspect = mli_rng_range(rng, p->aspect_min, p->aspect_max);
		double w = floor(sqrt(target * aspect) + 0.5), h = floor(sqrt(target / aspect) + 0.5);
		if (w >= 1 && h >= 1 && w <= src_w && h <= src_h) {
			d->w = (uint32_t)w;
			d->h = (uint32_t)h;
			d->x = (uint32_t)mli_rng_below(rng, src_w - d->w + 1);
			d->y = (uint32_t)mli_rng_below(rng, src_h - d->h + 1);
			d->whole = 0;
			break;
		}
	}
	d->flip = mli_rng_uniform(rng) < p->flip_prob;
	if (mli_rng_uniform(rng) < p->rotate_prob) {
		d->rotate = 1;
		d->angle = mli_rng_range(rng, -p->rotate_max, p->rotate_max);
	}
	u = mli_rng_uniform(rng);
	if (u < p->color_prob) {
		d->color = u < p->color_prob / 2 ? 1 : 2;
		d->brightness = mli_rng_range(rng, -p->brightness, p->brightness);
		d->saturation = mli_rng_range(rng, p->saturation_min, p->saturation_max);
		d->hue = mli_rng_range(rng, -p->hue, p->hue);
		d->contrast = mli_rng_range(rng, p->contrast_min, p->contrast_max);
	}
}

/* Scratch: two 8-bit images [size, size, c], then floats [size, size, 3].
 * Each image is followed by at least 8 spare bytes: the AVX2 rotation
 * loads 4 bytes for a 3-byte pixel. */
static size_t image_bytes(uint32_t size, uint32_t c)
{
	return (((size_t)size * size * c + 7) & ~(size_t)7) + 8;
}

size_t mli_augment_scratch_size(uint32_t size, uint32_t c)
{
	return 2 * image_bytes(size, c) + (size_t)size * size * 3 * sizeof(float);
}

/* Mirrors img [h, w, c] left to right, in place. */
static void flip_rows(uint8_t *img, uint32_t h, uint32_t w, uint32_t c)
{
	if (c == 3) {
		for (uint32_t y = 0; y < h; y++) {
			uint8_t *a = img + (size_t)y * w * 3, *b = a + (size_t)(w - 1) * 3;
			for (; a < b; a += 3, b -= 3) {
				uint8_t t0 = a[0], t1 = a[1], t2 = a[2];
				a[0] = b[0];
				a[1] = b[1];
				a[2] = b[2];
				b[0] = t0;
				b[1] = t1;
				b[2] = t2;
			}
		}
		return;
	}
	for (uint32_t y = 0; y < h; y++) {
		uint8_t *row = img + (size_t)y * w * c;
		for (uint32_t a = 0, b = w - 1; a < b; a++, b--)
			for (uint32_t k = 0; k < c; k++) {
				uint8_t t = row[a * c + k];
				row[a * c + k] = row[b * c + k];
				row[b * c + k] = t;
			}
	}
}

/* One output pixel of a rotation: the source [n, n, c] read bilinearly at
 * (fx, fy), 16.16 fixed point, with black outside; weights have 8
 * fraction bits each, all in integers. */
static inline void rotate_pixel(const uint8_t *src, uint32_t n, uint32_t c, long fx, long fy,
				uint8_t *out)
{
	/* Arithmetic shifts: floor for negative positions too. */
	long x0 = fx >> 16, y0 = fy >> 16, last = (long)n - 1;
	uint32_t wx = (uint32_t)(fx >> 8) & 0xff, wy = (uint32_t)(fy >> 8) & 0xff;
	uint32_t w00 = (256 - wx) * (256 - wy), w01 = wx * (256 - wy);
	uint32_t w10 = (256 - wx) * wy, w11 = wx * wy;

	if ((unsigned long)x0 < (unsigned long)last && (unsigned long)y0 < (unsigned long)last) {
		/* All four taps inside: the common case, without tests. */
		const uint8_t *a = src + ((size_t)y0 * n + (size_t)x0) * c, *b = a + (size_t)n * c;
		if (c == 3) {
			out[0] = (uint8_t)((w00 * a[0] + w01 * a[3] + w10 * b[0] + w11 * b[3] + 32768) >> 16);
			out[1] = (uint8_t)((w00 * a[1] + w01 * a[4] + w10 * b[1] + w11 * b[4] + 32768) >> 16);
			out[2] = (uint8_t)((w00 * a[2] + w01 * a[5] + w10 * b[2] + w11 * b[5] + 32768) >> 16);
			return;
		}
		for (uint32_t k = 0; k < c; k++)
			out[k] = (uint8_t)((w00 * a[k] + w01 * a[c + k] + w10 * b[k] + w11 * b[c + k] + 32768)
					   >> 16);
		return;
	}
	if (x0 < -1 || y0 < -1 || x0 > last || y0 > last) {
		memset(out, 0, c);
		return;
	}
	if (x0 < 0 || y0 < 0)
		w00 = 0;
	if (x0 >= last || y0 < 0)
		w01 = 0;
	if (x0 < 0 || y0 >= last)
		w10 = 0;
	if (x0 >= last || y0 >= last)
		w11 = 0;
	/* Taps with weight 0 are not read: point them at pixel 0. */
	size_t p00 = w00 ? ((size_t)y0 * n + (size_t)x0) * c : 0;
	size_t p01 = w01 ? ((size_t)y0 * n + (size_t)x0 + 1) * c : 0;
	size_t p10 = w10 ? ((size_t)(y0 + 1) * n + (size_t)x0) * c : 0;
	size_t p11 = w11 ? ((size_t)(y0 + 1) * n + (size_t)x0 + 1) * c : 0;
	for (uint32_t k = 0; k < c; k++)
		out[k] = (uint8_t)((w00 * src[p00 + k] + w01 * src[p01 + k] + w10 * src[p10 + k]
				    + w11 * src[p11 + k] + 32768) >> 16);
}

void mli__rotate_pixel(const uint8_t *src, uint32_t n, uint32_t c, long fx, long fy, uint8_t *out)
{
	rotate_pixel(src, n, c, fx, fy, out);
}

void mli__rotate_row_ref(const uint8_t *src, uint32_t n, uint32_t c, long fx, long fy,
			 long step_x, long step_y, uint8_t *out)
{
	for (uint32_t j = 0; j < n; j++, fx += step_x, fy += step_y, out += c)
		rotate_pixel(src, n, c, fx, fy, out);
}

/* Rotates src [n, n, c] about its centre into dst by angle degrees
 * counter-clockwise: output pixel (dx, dy) from the centre (y down) reads
 * the source at (dx cos - dy sin, dx sin + dy cos). Positions step along
 * a row in 16.16 fixed point. */
static void rotate(const uint8_t *src, uint8_t *dst, uint32_t n, uint32_t c, double angle,
		   int simd)
{
	double t = angle * (M_PI / 180), cs = cos(t), sn = sin(t), mid = (n - 1) / 2.0;
	long step_x = lround(cs * 65536), step_y = lround(sn * 65536);

	for (uint32_t i = 0; i < n; i++) {
		double dy = i - mid;
		/* Source position at j = 0. */
		long fx = lround((-mid * cs - dy * sn + mid) * 65536);
		long fy = lround((-mid * sn + dy * cs + mid) * 65536);
		uint8_t *out = dst + (size_t)i * n * c;
#ifdef MLI_HAVE_AVX2
		if (simd && c == 3 && n <= MLI__ROTATE_AVX2_MAX && mli_cpu_has_avx2_fma()) {
			mli__rotate_row3_avx2(src, n, fx, fy, step_x, step_y, out);
			continue;
		}
#else
		(void)simd;
#endif
		mli__rotate_row_ref(src, n, c, fx, fy, step_x, step_y, out);
	}
}

/* Through HSV and back (TensorFlow's rgb_to_hsv and hsv_to_rgb, the
 * latter in its branch-free form): saturation times sat, clipped to
 * [0, 1], and hue turned by dhue of the circle. Values outside [0, 1]
 * (after brightness) stay defined. The AVX2 version in augment_avx2.c
 * follows this operation for operation. */
static inline void hsv_adjust(float *r, float *g, float *b, float sat, float dhue)
{
	float mx = *r > *g ? (*r > *b ? *r : *b) : (*g > *b ? *g : *b);
	float mn = *r < *g ? (*r < *b ? *r : *b) : (*g < *b ? *g : *b);
	float d = mx - mn, h = 0, s = 0, v = mx;

	if (d > 0) {
		float inv = 1.0f / d;
		if (mx == *r)
			h = (*g - *b) * inv;
		else if (mx == *g)
			h = 2 + (*b - *r) * inv;
		else
			h = 4 + (*r - *g) * inv;
		h *= 1.0f / 6;
		if (mx > 0)
			s = d / mx;
	}
	/* h is within [-1/6, 5/6] and dhue within [-1/2, 1/2]: one wrap
	 * brings it into [0, 1). */
	h += dhue;
	h += h < 0 ? 1 : 0;
	h -= h >= 1 ? 1 : 0;
	s *= sat;
	s = s < 0 ? 0 : s > 1 ? 1 : s;
	float h6 = h * 6, vs = v * s, out[3];
	static const float n[3] = { 5, 3, 1 };
	for (int c = 0; c < 3; c++) {
		float k = n[c] + h6, t;
		k -= k >= 6 ? 6 : 0;
		t = k < 4 - k ? k : 4 - k;
		t = t < 0 ? 0 : t > 1 ? 1 : t;
		out[c] = v - vs * t;
	}
	*r = out[0];
	*g = out[1];
	*b = out[2];
}

void mli__color_pass1_ref(const uint8_t *img, float *f, size_t n, int order, float br, float sat,
			  float hue)
{
	for (size_t i = 0; i < n; i++) {
		float r = img[3 * i] * (1.0f / 255), g = img[3 * i + 1] * (1.0f / 255);
		float b = img[3 * i + 2] * (1.0f / 255);
		if (order == 1) {
			r += br;
			g += br;
			b += br;
			hsv_adjust(&r, &g, &b, sat, hue);
		} else {
			hsv_adjust(&r, &g, &b, sat, 0);
			r += br;
			g += br;
			b += br;
		}
		f[i] = r;
		f[n + i] = g;
		f[2 * n + i] = b;
	}
}

void mli__color_pass2_ref(const float *f, uint8_t *dst, size_t n, int order, float k,
			  const float mean[3], float hue)
{
	for (size_t i = 0; i < n; i++) {
		float r = (f[i] - mean[0]) * k + mean[0];
		float g = (f[n + i] - mean[1]) * k + mean[1];
		float b = (f[2 * n + i] - mean[2]) * k + mean[2], px[3];
		if (order == 2)
			hsv_adjust(&r, &g, &b, 1, hue);
		px[0] = r;
		px[1] = g;
		px[2] = b;
		for (int c = 0; c < 3; c++) {
			float v = px[c] * 255 + 0.5f;
			v = v < 0 ? 0 : v;
			v = v < 255 ? v : 255;
			dst[3 * i + c] = (uint8_t)v;
		}
	}
}

/* Two passes: the first does everything before contrast, the second
 * contrast, what follows it, and the rounding back to 8 bits. The means
 * for contrast are summed here, in double and in pixel order, so that
 * they are the same whichever kernels ran and on whatever thread. */
void mli__color(const uint8_t *img, float *f, size_t n, int order, float br, float sat, float hue,
		float contrast, uint8_t *dst, int simd)
{
	void (*pass1)(const uint8_t *, float *, size_t, int, float, float, float) = mli__color_pass1_ref;
	void (*pass2)(const float *, uint8_t *, size_t, int, float, const float *, float) =
		mli__color_pass2_ref;
	float mean[3];

#ifdef MLI_HAVE_AVX2
	if (simd && mli_cpu_has_avx2_fma()) {
		pass1 = mli__color_pass1_avx2;
		pass2 = mli__color_pass2_avx2;
	}
#else
	(void)simd;
#endif
	pass1(img, f, n, order, br, sat, hue);
	for (int c = 0; c < 3; c++) {
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += f[c * n + i];
		mean[c] = (float)(sum / (double)n);
	}
	pass2(f, dst, n, order, contrast, mean, hue);
}

int mli_augment_apply(const struct mli_augment_draw *d, const uint8_t *src, uint32_t sh,
		      uint32_t sw, uint32_t c, uint8_t *dst, uint32_t size, void *scratch)
{
	uint8_t *a = scratch, *b = a + image_bytes(size, c), *cur = a;
	float *f = (float *)(b + image_bytes(size, c));
	size_t n = (size_t)size * size;
	int rc;

	if (!size || !c || d->w == 0 || d->h == 0 || d->x + (uint64_t)d->w > sw
	    || d->y + (uint64_t)d->h > sh)
		return MLI_EINVAL;
	rc = mli_resize(src + ((size_t)d->y * sw + d->x) * c, d->h, d->w, (size_t)sw * c, c, a, size,
			size);
	if (rc < 0)
		return rc;
	if (d->flip)
		flip_rows(a, size, size, c);
	if (d->rotate) {
		rotate(a, b, size, c, d->angle, !mli_kernels_want_ref());
		cur = b;
	}
	if (d->color && c == 3)
		mli__color(cur, f, n, d->color, (float)d->brightness, (float)d->saturation,
			   (float)d->hue, (float)d->contrast, dst, !mli_kernels_want_ref());
	else
		memcpy(dst, cur, n * c);
	return 0;
}

void mli_augment_central(uint32_t h, uint32_t w, double fraction, uint32_t *y, uint32_t *x,
			 uint32_t *ch, uint32_t *cw)
{
	*y = (uint32_t)((h - h * fraction) / 2);
	*x = (uint32_t)((w - w * fraction) / 2);
	*ch = h - 2 * *y;
	*cw = w - 2 * *x;
}

int mli_augment_eval(const uint8_t *src, uint32_t sh, uint32_t sw, uint32_t c, double fraction,
		     uint8_t *dst, uint32_t size)
{
	uint32_t y, x, ch, cw;

	if (!(fraction > 0 && fraction <= 1))
		return MLI_EINVAL;
	mli_augment_central(sh, sw, fraction, &y, &x, &ch, &cw);
	if (!ch || !cw)
		return MLI_EINVAL;
	return mli_resize(src + ((size_t)y * sw + x) * c, ch, cw, (size_t)sw * c, c, dst, size, size);
}

void mli_augment_short_side(uint32_t h, uint32_t w, uint32_t short_side, uint32_t *rh,
			    uint32_t *rw)
{
	if (h <= w) {
		*rh = short_side;
		*rw = (uint32_t)floor((double)w * short_side / h + 0.5);
	} else {
		*rw = short_side;
		*rh = (uint32_t)floor((double)h * short_side / w + 0.5);
	}
	if (!*rh)
		*rh = 1;
	if (!*rw)
		*rw = 1;
}

int mli_augment_ten_crop(const uint8_t *src, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
			 uint32_t size)
{
	uint32_t ys[5], xs[5];
	size_t row = (size_t)size * c, view = row * size;

	if (!size || sh < size || sw < size)
		return MLI_EINVAL;
	ys[0] = ys[1] = 0;
	ys[2] = ys[3] = sh - size;
	xs[0] = xs[2] = 0;
	xs[1] = xs[3] = sw - size;
	ys[4] = (sh - size) / 2;
	xs[4] = (sw - size) / 2;
	for (int v = 0; v < 5; v++) {
		uint8_t *out = dst + v * view;
		for (uint32_t y = 0; y < size; y++)
			memcpy(out + y * row, src + ((size_t)(ys[v] + y) * sw + xs[v]) * c, row);
		memcpy(dst + (v + 5) * view, out, view);
		flip_rows(dst + (v + 5) * view, size, size, c);
	}
	return 0;
}

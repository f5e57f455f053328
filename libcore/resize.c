/* resize.c: the separable antialiased resize (portable C, and the choice
 * of the AVX2 row kernels where the CPU has them).
 *
 * For output pixel i the filter is centred on source coordinate
 * (i + 0.5) * scale, scale = in / out; when shrinking, the triangle is
 * stretched by scale so that it covers every source pixel in between. Its
 * weights are normalised to sum to one, then rounded to fixed point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "resize.h"
#include "resize_impl.h"

#define BITS MLI__RESIZE_BITS
#define HALF (1 << (BITS - 1))

static void taps_free(struct mli__taps *t)
{
	free(t->first);
	free(t->n);
	free(t->w);
}

static double triangle(double x)
{
	x = fabs(x);
	return x < 1.0 ? 1.0 - x : 0.0;
}

static int taps_make(struct mli__taps *t, uint32_t in, uint32_t out)
{
	double scale = (double)in / out, fscale = scale > 1.0 ? scale : 1.0;
	double support = fscale, *tmp;
	uint32_t span;

	memset(t, 0, sizeof *t);
	span = (uint32_t)ceil(support) * 2 + 1;
	t->k = (span + 3) & ~3u;
	t->first = malloc(sizeof *t->first * out);
	t->n = malloc(sizeof *t->n * out);
	t->w = calloc((size_t)out * t->k, sizeof *t->w);
	tmp = malloc(sizeof *tmp * span);
	if (!t->first || !t->n || !t->w || !tmp) {
		free(tmp);
		taps_free(t);
		return MLI_ENOMEM;
	}
	for (uint32_t i = 0; i < out; i++) {
		double center = (i + 0.5) * scale, sum = 0.0;
		long lo = (long)floor(center - support + 0.5), hi = (long)floor(center + support + 0.5);
		int16_t *w = t->w + (size_t)i * t->k;

		if (lo < 0)
			lo = 0;
		if (hi > (long)in)
			hi = (long)in;
		if (hi - lo > (long)span)
			hi = lo + (long)span;
		if (hi <= lo) {
			/* Cannot happen for in, out >= 1, but stay defined. */
			lo = (long)(center < in ? center : in - 1);
			hi = lo + 1;
		}
		for (long x = lo; x < hi; x++) {
			tmp[x - lo] = triangle((x + 0.5 - center) / fscale);
			sum += tmp[x - lo];
		}
		if (sum <= 0.0) {
			/* Enlarging onto a pixel edge: take the nearest pixel. */
			for (long x = lo; x < hi; x++)
				tmp[x - lo] = 0.0;
			tmp[0] = sum = 1.0;
		}
		t->first[i] = (uint32_t)lo;
		t->n[i] = (uint32_t)(hi - lo);
		for (long x = lo; x < hi; x++)
			w[x - lo] = (int16_t)lround(tmp[x - lo] / sum * (1 << BITS));
	}
	free(tmp);
	return 0;
}

/* Weights are non-negative and sum to about 1 << BITS, so a sum of 8-bit
 * values times weights stays far below 2^31. */
static inline uint8_t clip8(int32_t v)
{
	v >>= BITS;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

void mli__resize_h3_ref(const uint8_t *src, uint32_t in, uint8_t *dst, uint32_t out,
			const struct mli__taps *t)
{
	(void)in;
	for (uint32_t i = 0; i < out; i++) {
		const uint8_t *s = src + (size_t)t->first[i] * 3;
		const int16_t *w = t->w + (size_t)i * t->k;
		int32_t a = HALF, b = HALF, d = HALF;
		for (uint32_t j = 0; j < t->n[i]; j++, s += 3) {
			a += s[0] * w[j];
			b += s[1] * w[j];
			d += s[2] * w[j];
		}
		dst[3 * i] = clip8(a);
		dst[3 * i + 1] = clip8(b);
		dst[3 * i + 2] = clip8(d);
	}
}

/* Any channel count, horizontally (reference only: decoded images are
 * RGB, which takes the h3 kernels). */
static void resize_hc(const uint8_t *src, uint8_t *dst, uint32_t out, uint32_t c,
		      const struct mli__taps *t)
{
	for (uint32_t i = 0; i < out; i++) {
		const int16_t *w = t->w + (size_t)i * t->k;
		for (uint32_t ch = 0; ch < c; ch++) {
			const uint8_t *s = src + (size_t)t->first[i] * c + ch;
			int32_t a = HALF;
			for (uint32_t j = 0; j < t->n[i]; j++, s += c)
				a += *s * w[j];
			dst[(size_t)i * c + ch] = clip8(a);
		}
	}
}

void mli__resize_v_ref(const uint8_t *src, size_t stride, size_t len, uint32_t n,
		       const int16_t *w, uint8_t *dst)
{
	int32_t acc[256];

	/* In blocks, so that the inner loop runs along memory. */
	for (size_t x0 = 0; x0 < len; x0 += 256) {
		size_t m = len - x0 < 256 ? len - x0 : 256;
		for (size_t x = 0; x < m; x++)
			acc[x] = HALF;
		for (uint32_t j = 0; j < n; j++) {
			const uint8_t *s = src + (size_t)j * stride + x0;
			int32_t wj = w[j];
			for (size_t x = 0; x < m; x++)
				acc[x] += s[x] * wj;
		}
		for (size_t x = 0; x < m; x++)
			dst[x0 + x] = clip8(acc[x]);
	}
}

int mli__resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
		uint8_t *dst, uint32_t dh, uint32_t dw, int simd)
{
	void (*h3)(const uint8_t *, uint32_t, uint8_t *, uint32_t, const struct mli__taps *) =
		mli__resize_h3_ref;
	void (*v)(const uint8_t *, size_t, size_t, uint32_t, const int16_t *, uint8_t *) =
		mli__resize_v_ref;
	struct mli__taps tx, ty;
	uint8_t *mid = NULL;
	size_t row = (size_t)dw * c;
	int rc;

	if (!sh || !sw || !dh || !dw || c < 1 || c > 4)
		return MLI_EINVAL;
#ifdef MLI_HAVE_AVX2
	if (simd && mli_cpu_has_avx2_fma()) {
		h3 = mli__resize_h3_avx2;
		v = mli__resize_v_avx2;
	}
#else
	(void)simd;
#endif
	if ((rc = taps_make(&tx, sw, dw)) < 0)
		return rc;
	if ((rc = taps_make(&ty, sh, dh)) < 0) {
		taps_free(&tx);
		return rc;
	}
	/* Vertical pass first, into [dh, sw, c]: the horizontal pass, the
	 * dearer one, then runs over dh rows rather than sh. */
	if (!(mid = malloc((size_t)sw * c * dh))) {
		rc = MLI_ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < dh; i++) {
		const uint8_t *s = src + (size_t)ty.first[i] * src_stride;
		uint8_t *d = mid + (size_t)i * sw * c;
		if (sh == dh)
			memcpy(d, s, (size_t)sw * c);
		else
			v(s, src_stride, (size_t)sw * c, ty.n[i], ty.w + (size_t)i * ty.k, d);
	}
	for (uint32_t i = 0; i < dh; i++) {
		const uint8_t *s = mid + (size_t)i * sw * c;
		uint8_t *d = dst + (size_t)i * row;
		if (sw == dw)
			memcpy(d, s, row);
		else if (c == 3)
			h3(s, sw, d, dw, &tx);
		else
			resize_hc(s, d, dw, c, &tx);
	}
	rc = 0;
fail:
	free(mid);
	taps_free(&tx);
	taps_free(&ty);
	return rc;
}

int mli_resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
	       uint8_t *dst, uint32_t dh, uint32_t dw)
{
	const char *want = getenv("MLI_KERNELS");

	return mli__resize(src, sh, sw, src_stride, c, dst, dh, dw,
			   !(want && strcmp(want, "ref") == 0));
}

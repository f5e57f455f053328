/* resize.c: the separable antialiased resize (portable C).
 *
 * For output pixel i the filter is centred on source coordinate
 * (i + 0.5) * scale, scale = in / out; when shrinking, the triangle is
 * stretched by scale so that it covers every source pixel in between. Its
 * weights are normalised to sum to one, then rounded to fixed point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "resize.h"

#define PRECISION 22

/* The taps of one dimension: for output i, n[i] weights w[i * k ...]
 * applied to source pixels first[i] .. first[i] + n[i] - 1. */
struct taps {
	uint32_t k;        /* weights per output (the widest filter) */
	uint32_t *first;   /* [out] */
	uint32_t *n;       /* [out] */
	int32_t *w;        /* [out, k] */
};

static void taps_free(struct taps *t)
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

static int taps_make(struct taps *t, uint32_t in, uint32_t out)
{
	double scale = (double)in / out, fscale = scale > 1.0 ? scale : 1.0;
	double support = fscale, *tmp;

	memset(t, 0, sizeof *t);
	t->k = (uint32_t)ceil(support) * 2 + 1;
	t->first = malloc(sizeof *t->first * out);
	t->n = malloc(sizeof *t->n * out);
	t->w = malloc(sizeof *t->w * (size_t)out * t->k);
	tmp = malloc(sizeof *tmp * t->k);
	if (!t->first || !t->n || !t->w || !tmp) {
		free(tmp);
		taps_free(t);
		return MLI_ENOMEM;
	}
	for (uint32_t i = 0; i < out; i++) {
		double center = (i + 0.5) * scale, sum = 0.0;
		long lo = (long)floor(center - support + 0.5), hi = (long)floor(center + support + 0.5);
		int32_t *w = t->w + (size_t)i * t->k;

		if (lo < 0)
			lo = 0;
		if (hi > (long)in)
			hi = (long)in;
		if (hi - lo > (long)t->k)
			hi = lo + (long)t->k;
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
			w[x - lo] = (int32_t)lround(tmp[x - lo] / sum * (1 << PRECISION));
	}
	free(tmp);
	return 0;
}

/* Weights are non-negative and sum to about 1 << PRECISION, so a sum of
 * 8-bit values times weights stays below 2^31. */
static inline uint8_t clip8(int32_t v)
{
	v >>= PRECISION;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* One row: src [in, c] to dst [out, c] through the taps. */
static void pass_row(const uint8_t *src, uint8_t *dst, uint32_t out, uint32_t c, const struct taps *t)
{
	const int32_t half = (int32_t)1 << (PRECISION - 1);

	if (c == 3) {
		for (uint32_t i = 0; i < out; i++) {
			const uint8_t *s = src + (size_t)t->first[i] * 3;
			const int32_t *w = t->w + (size_t)i * t->k;
			int32_t a = half, b = half, d = half;
			for (uint32_t j = 0; j < t->n[i]; j++, s += 3) {
				a += s[0] * w[j];
				b += s[1] * w[j];
				d += s[2] * w[j];
			}
			dst[3 * i] = clip8(a);
			dst[3 * i + 1] = clip8(b);
			dst[3 * i + 2] = clip8(d);
		}
		return;
	}
	for (uint32_t i = 0; i < out; i++) {
		const int32_t *w = t->w + (size_t)i * t->k;
		for (uint32_t ch = 0; ch < c; ch++) {
			const uint8_t *s = src + (size_t)t->first[i] * c + ch;
			int32_t a = half;
			for (uint32_t j = 0; j < t->n[i]; j++, s += c)
				a += *s * w[j];
			dst[(size_t)i * c + ch] = clip8(a);
		}
	}
}

int mli_resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
	       uint8_t *dst, uint32_t dh, uint32_t dw)
{
	struct taps tx, ty;
	uint8_t *mid = NULL;
	int32_t *acc = NULL;
	size_t row = (size_t)dw * c;
	uint32_t y0, y1;
	int rc;

	if (!sh || !sw || !dh || !dw || c < 1 || c > 4)
		return MLI_EINVAL;
	if ((rc = taps_make(&tx, sw, dw)) < 0)
		return rc;
	if ((rc = taps_make(&ty, sh, dh)) < 0) {
		taps_free(&tx);
		return rc;
	}
	/* Only the source rows the vertical pass reads are resized across. */
	y0 = ty.first[0];
	y1 = ty.first[dh - 1] + ty.n[dh - 1];
	mid = malloc(row * (y1 - y0));
	acc = malloc(sizeof *acc * row);
	if (!mid || !acc) {
		rc = MLI_ENOMEM;
		goto fail;
	}
	for (uint32_t y = y0; y < y1; y++) {
		const uint8_t *s = src + (size_t)y * src_stride;
		if (sw == dw)
			memcpy(mid + (size_t)(y - y0) * row, s, row);
		else
			pass_row(s, mid + (size_t)(y - y0) * row, dw, c, &tx);
	}
	for (uint32_t i = 0; i < dh; i++) {
		const int32_t *w = ty.w + (size_t)i * ty.k;
		const uint8_t *base = mid + (size_t)(ty.first[i] - y0) * row;
		uint8_t *d = dst + (size_t)i * row;
		if (sh == dh) {
			memcpy(d, base, row);
			continue;
		}
		/* Row by row into the accumulator, so that the inner loop runs
		 * along memory (and vectorises). */
		for (size_t x = 0; x < row; x++)
			acc[x] = (int32_t)1 << (PRECISION - 1);
		for (uint32_t j = 0; j < ty.n[i]; j++) {
			const uint8_t *s = base + (size_t)j * row;
			int32_t wj = w[j];
			for (size_t x = 0; x < row; x++)
				acc[x] += s[x] * wj;
		}
		for (size_t x = 0; x < row; x++)
			d[x] = clip8(acc[x]);
	}
	rc = 0;
fail:
	free(acc);
	free(mid);
	taps_free(&tx);
	taps_free(&ty);
	return rc;
}

/* resize.c: the separable antialiased resize (portable C, the choice of
 * the AVX2 or AVX-512 row kernels where the CPU has them, and the
 * row-by-row driver shared by mli_resize and the streaming resizer).
 *
 * For output pixel i the filter is centred on source coordinate
 * (i + 0.5) * scale, scale = in / out; when shrinking, the triangle is
 * stretched by scale so that it covers every source pixel in between. Its
 * weights are normalised to sum to one, then rounded to fixed point.
 *
 * Output row i needs source rows first[i] .. first[i] + n[i] - 1 of the
 * vertical taps: it is computed vertically into one 8-bit row, then
 * horizontally into dst, as soon as those rows are there. A whole image
 * in memory has every row there; a stream keeps the last rows in a ring
 * of ty.k + MLI_RESIZER_BATCH rows, enough for the rows an unfinished
 * output row still needs plus one batch of new ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "kernels.h"
#include "resize.h"
#include "resize_impl.h"

#define BITS MLI__RESIZE_BITS
#define HALF (1 << (BITS - 1))

/* Ring rows start 8 bytes past a 64-byte boundary. libjpeg-turbo's SIMD
 * colour conversion writes rows that are 16- or 32-byte aligned with
 * non-temporal stores, which go around the cache: the resize, reading
 * them next, would then wait on memory. */
#define RING_SKEW 8

typedef void (*h3_fn)(const uint8_t *, uint8_t *, uint32_t, const struct mli__taps *);
typedef void (*v_fn)(const uint8_t *const *, uint32_t, const int16_t *, size_t, uint8_t *);

struct mli_resizer {
	uint32_t sh, sw, c, dh, dw;
	struct mli__taps tx, ty;
	h3_fn h3;
	v_fn v;
	size_t row;              /* sw * c: bytes of a source row */
	const uint8_t *src;      /* the whole source image, or NULL: the ring */
	size_t stride;           /* bytes between rows of src */
	uint8_t *ring;           /* [nring, ring_stride], the rows from byte RING_SKEW */
	size_t ring_stride;
	uint32_t nring;
	uint8_t *mid;            /* [row + tx.pad]: one row after the vertical pass */
	const uint8_t **rows;    /* [ty.k]: the source rows of one output row */
	uint8_t *dst;            /* [dh, dw, c] */
	int simd;                /* the kernels asked for (MLI__RESIZE_*) */
	uint32_t have;           /* source rows pushed */
	uint32_t next;           /* the next output row */
};

static void taps_free(struct mli__taps *t)
{
	free(t->first);
	free(t->n);
	free(t->w);
	free(t->w16);
	free(t->idx512);
	free(t->w512);
}

static double triangle(double x)
{
	x = fabs(x);
	return x < 1.0 ? 1.0 - x : 0.0;
}

#ifdef MLI_HAVE_AVX2
/* The expanded weights of the SIMD horizontal kernel (see
 * resize_impl.h). */
static int taps_expand(struct mli__taps *t, uint32_t out)
{
	uint32_t chunks = t->chunks;

	if (!(t->w16 = calloc((size_t)out * chunks * 16, sizeof *t->w16)))
		return MLI_ENOMEM;
	for (uint32_t i = 0; i < out; i++)
		for (uint32_t q = 0; q < chunks; q++) {
			int16_t *d = t->w16 + ((size_t)i * chunks + q) * 16;
			for (uint32_t half = 0; half < 2; half++) {
				uint32_t j = 4 * q + 2 * half;
				int16_t a = j < t->n[i] ? t->w[(size_t)i * t->k + j] : 0;
				int16_t b = j + 1 < t->n[i] ? t->w[(size_t)i * t->k + j + 1] : 0;
				for (int ch = 0; ch < 3; ch++) {
					d[8 * half + 2 * ch] = a;
					d[8 * half + 2 * ch + 1] = b;
				}
			}
		}
	return 0;
}

#endif

#ifdef MLI_HAVE_AVX512
/* The AVX-512 tables (see resize_impl.h), when every group of 16
 * outputs fits in its 128-byte window; idx512 stays NULL otherwise. */
static int taps_expand512(struct mli__taps *t, uint32_t out)
{
	uint32_t groups = (out + 15) / 16, pairs = 1;

	for (uint32_t i = 0; i < out; i++) {
		if ((t->n[i] + 1) / 2 > pairs)
			pairs = (t->n[i] + 1) / 2;
		if ((size_t)(t->first[i] + t->n[i] - t->first[i & ~15u]) * 3 > 128)
			return 0;
	}
	t->pairs = pairs;
	t->idx512 = calloc((size_t)groups * pairs * 3 * 64, 1);
	t->w512 = calloc((size_t)groups * pairs * 3 * 32, sizeof *t->w512);
	if (!t->idx512 || !t->w512)
		return MLI_ENOMEM;
	for (uint32_t g = 0; g < groups; g++)
		for (uint32_t p = 0; p < pairs; p++)
			for (uint32_t v = 0; v < 48; v++) {
				uint32_t i = 16 * g + v / 3, ch = v % 3, z = v / 16, e = v % 16;
				size_t at = ((size_t)g * pairs + p) * 3 + z;
				if (i >= out)
					i = out - 1;
				for (uint32_t h = 0; h < 2; h++) {
					uint32_t j = 2 * p + h;
					if (j >= t->n[i])
						continue;
					t->idx512[at * 64 + 4 * e + 2 * h] =
						(uint8_t)((t->first[i] + j - t->first[16 * g]) * 3 + ch);
					t->w512[at * 32 + 2 * e + h] = t->w[(size_t)i * t->k + j];
				}
			}
	return 0;
}
#endif

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
	t->chunks = 1;
	for (uint32_t i = 0; i < out; i++)
		if ((t->n[i] + 3) / 4 > t->chunks)
			t->chunks = (t->n[i] + 3) / 4;
	/* The last load of the AVX2 kernel for output i starts at pixel
	 * first[i] + 4 (chunks - 1) <= in - 1 + 4 (chunks - 1) and is 16
	 * bytes long; the AVX-512 kernel reads 128 bytes from a group's
	 * first pixel. */
	t->pad = (size_t)12 * t->chunks + 4;
	if (t->pad < 128)
		t->pad = 128;
	return 0;
}

/* Weights are non-negative and sum to about 1 << BITS, so a sum of 8-bit
 * values times weights stays far below 2^31. */
static inline uint8_t clip8(int32_t v)
{
	v >>= BITS;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

void mli__resize_h3_ref(const uint8_t *src, uint8_t *dst, uint32_t out, const struct mli__taps *t)
{
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

void mli__resize_v_ref(const uint8_t *const *rows, uint32_t n, const int16_t *w, size_t len,
		       uint8_t *dst)
{
	int32_t acc[256];

	/* In blocks, so that the inner loop runs along memory. */
	for (size_t x0 = 0; x0 < len; x0 += 256) {
		size_t m = len - x0 < 256 ? len - x0 : 256;
		for (size_t x = 0; x < m; x++)
			acc[x] = HALF;
		for (uint32_t j = 0; j < n; j++) {
			const uint8_t *s = rows[j] + x0;
			int32_t wj = w[j];
			for (size_t x = 0; x < m; x++)
				acc[x] += s[x] * wj;
		}
		for (size_t x = 0; x < m; x++)
			dst[x0 + x] = clip8(acc[x]);
	}
}

void mli_resizer_free(struct mli_resizer *r)
{
	if (!r)
		return;
	taps_free(&r->tx);
	taps_free(&r->ty);
	free(r->ring);
	free(r->mid);
	free(r->rows);
	free(r);
}

/* A resizer reading src when it is not NULL, else a ring of rows. */
static int resizer_make(struct mli_resizer **rp, const uint8_t *src, size_t stride, uint32_t sh,
			uint32_t sw, uint32_t c, uint8_t *dst, uint32_t dh, uint32_t dw, int simd)
{
	struct mli_resizer *r;
	int rc = MLI_ENOMEM;

	*rp = NULL;
	if (!sh || !sw || !dh || !dw || c < 1 || c > 4)
		return MLI_EINVAL;
	if (!(r = calloc(1, sizeof *r)))
		return MLI_ENOMEM;
	r->sh = sh;
	r->sw = sw;
	r->c = c;
	r->dh = dh;
	r->dw = dw;
	r->simd = simd;
	r->h3 = mli__resize_h3_ref;
	r->v = mli__resize_v_ref;
	r->row = (size_t)sw * c;
	r->src = src;
	r->stride = stride;
	r->dst = dst;
	if ((rc = taps_make(&r->tx, sw, dw)) < 0 || (rc = taps_make(&r->ty, sh, dh)) < 0)
		goto fail;
	/* The kernels, and the horizontal weights laid out for the SIMD one
	 * chosen (an RGB row only, and only when it has a pass to make). */
	int h_simd = c == 3 && sw != dw;
	rc = MLI_ENOMEM;
#ifdef MLI_HAVE_AVX2
	if (simd != MLI__RESIZE_REF && mli_cpu_has_avx2_fma()) {
		r->v = mli__resize_v_avx2;
#ifdef MLI_HAVE_AVX512
		if (simd == MLI__RESIZE_BEST && mli_cpu_has_avx512()) {
			r->v = mli__resize_v_avx512;
			if (h_simd && __builtin_cpu_supports("avx512vbmi")) {
				if (taps_expand512(&r->tx, dw) < 0)
					goto fail;
				if (r->tx.idx512) {
					r->h3 = mli__resize_h3_avx512;
					h_simd = 0;
				}
			}
		}
#endif
		if (h_simd) {
			if (taps_expand(&r->tx, dw) < 0)
				goto fail;
			r->h3 = mli__resize_h3_avx2;
		}
	}
#endif
	(void)simd;
	(void)h_simd;
	/* The padding past the row is zeroed once: its weights are zero,
	 * and the bytes read there are then defined too. */
	if (!(r->mid = calloc(r->row + r->tx.pad, 1)) || !(r->rows = malloc(sizeof *r->rows * r->ty.k)))
		goto fail;
	if (!src) {
		r->nring = r->ty.k + MLI_RESIZER_BATCH;
		if (r->nring > sh)
			r->nring = sh;
		r->ring_stride = (r->row + 63) & ~(size_t)63;
		if (!(r->ring = aligned_alloc(64, r->ring_stride * r->nring + 64)))
			goto fail;
	}
	*rp = r;
	return 0;
fail:
	mli_resizer_free(r);
	return rc;
}

static const uint8_t *source_row(const struct mli_resizer *r, uint32_t y)
{
	if (r->src)
		return r->src + (size_t)y * r->stride;
	return r->ring + RING_SKEW + (size_t)(y % r->nring) * r->ring_stride;
}

/* Writes every output row whose source rows are all in. */
static void emit(struct mli_resizer *r)
{
	const struct mli__taps *ty = &r->ty;
	const size_t out_row = (size_t)r->dw * r->c;

	for (; r->next < r->dh && ty->first[r->next] + ty->n[r->next] <= r->have; r->next++) {
		uint32_t i = r->next;
		uint8_t *d = r->dst + (size_t)i * out_row;
		/* Without a horizontal pass the vertical one writes dst. */
		uint8_t *v = r->sw == r->dw ? d : r->mid;

		if (r->sh == r->dh) {
			memcpy(v, source_row(r, i), r->row);
		} else {
			for (uint32_t j = 0; j < ty->n[i]; j++)
				r->rows[j] = source_row(r, ty->first[i] + j);
			r->v(r->rows, ty->n[i], ty->w + (size_t)i * ty->k, r->row, v);
		}
		if (r->sw == r->dw)
			continue;
		if (r->c == 3)
			r->h3(r->mid, d, r->dw, &r->tx);
		else
			resize_hc(r->mid, d, r->dw, r->c, &r->tx);
	}
}

int mli__resizer_new(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		     uint32_t dh, uint32_t dw, int simd)
{
	return resizer_make(rp, NULL, 0, sh, sw, c, dst, dh, dw, simd);
}

static int want_simd(void)
{
	return mli_kernels_want_ref() ? MLI__RESIZE_REF : MLI__RESIZE_BEST;
}

int mli_resizer_new(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		    uint32_t dh, uint32_t dw)
{
	return mli__resizer_new(rp, sh, sw, c, dst, dh, dw, want_simd());
}

int mli_resizer_matches(const struct mli_resizer *r, uint32_t sh, uint32_t sw, uint32_t c, uint32_t dh,
			uint32_t dw)
{
	return r && r->ring && r->sh == sh && r->sw == sw && r->c == c && r->dh == dh && r->dw == dw
	       && r->simd == want_simd();
}

int mli_resizer_reuse(struct mli_resizer **rp, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
		      uint32_t dh, uint32_t dw)
{
	struct mli_resizer *r = *rp;
	int rc;

	if (mli_resizer_matches(r, sh, sw, c, dh, dw)) {
		r->dst = dst;
		r->have = 0;
		r->next = 0;
		return 0;
	}
	mli_resizer_free(r);
	if ((rc = mli__resizer_new(rp, sh, sw, c, dst, dh, dw, want_simd())) < 0)
		*rp = NULL;
	return rc;
}

uint32_t mli_resizer_rows(struct mli_resizer *r, uint8_t **rows, uint32_t max)
{
	uint32_t m = r->sh - r->have;

	if (m > max)
		m = max;
	if (m > MLI_RESIZER_BATCH)
		m = MLI_RESIZER_BATCH;
	for (uint32_t k = 0; k < m; k++)
		rows[k] = (uint8_t *)source_row(r, r->have + k);
	return m;
}

void mli_resizer_push(struct mli_resizer *r, uint32_t m)
{
	if (m > r->sh - r->have)
		m = r->sh - r->have;
	r->have += m;
	emit(r);
}

int mli_resizer_done(const struct mli_resizer *r)
{
	return r->next == r->dh;
}

int mli__resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
		uint8_t *dst, uint32_t dh, uint32_t dw, int simd)
{
	struct mli_resizer *r;
	int rc;

	if ((rc = resizer_make(&r, src, src_stride, sh, sw, c, dst, dh, dw, simd)) < 0)
		return rc;
	r->have = sh;
	emit(r);
	mli_resizer_free(r);
	return 0;
}

int mli_resize(const uint8_t *src, uint32_t sh, uint32_t sw, size_t src_stride, uint32_t c,
	       uint8_t *dst, uint32_t dh, uint32_t dw)
{
	return mli__resize(src, sh, sw, src_stride, c, dst, dh, dw, want_simd());
}

/* decode.c: sniff, decode at the right DCT scale, resize, orient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "error.h"
#include "jpeg.h"
#include "orient.h"
#include "pngio.h"
#include "resize.h"

int mli_image_sniff(const uint8_t *p, size_t n)
{
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return MLI_FORMAT_JPEG;
	if (mli_png_sniff(p, n))
		return MLI_FORMAT_PNG;
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return MLI_FORMAT_GIF;
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return MLI_FORMAT_WEBP;
	if (n >= 2 && p[0] == 'B' && p[1] == 'M')
		return MLI_FORMAT_BMP;
	if (n >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4)))
		return MLI_FORMAT_TIFF;
	for (size_t i = 0; i < n && i < 512; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			continue;
		if (p[i] == '<')
			return MLI_FORMAT_HTML;
		break;
	}
	return MLI_FORMAT_UNKNOWN;
}

const char *mli_image_media(int format)
{
	switch (format) {
	case MLI_FORMAT_JPEG: return "image/jpeg";
	case MLI_FORMAT_PNG: return "image/png";
	case MLI_FORMAT_GIF: return "image/gif";
	case MLI_FORMAT_WEBP: return "image/webp";
	case MLI_FORMAT_BMP: return "image/bmp";
	case MLI_FORMAT_TIFF: return "image/tiff";
	case MLI_FORMAT_HTML: return "text/html";
	}
	return "application/octet-stream";
}

/* Resize plans kept per thread: a dataset's photographs come in a few
 * sizes, and with several threads each sees every n-th image. */
#define PLANS 4

struct mli_decoder {
	struct mli_resizer *plans[PLANS];  /* or NULL */
	unsigned victim;                   /* the next to replace, round robin */
};

int mli_decoder_new(struct mli_decoder **dp)
{
	return (*dp = calloc(1, sizeof **dp)) ? 0 : MLI_ENOMEM;
}

void mli_decoder_free(struct mli_decoder *d)
{
	if (!d)
		return;
	for (int k = 0; k < PLANS; k++)
		mli_resizer_free(d->plans[k]);
	free(d);
}

static uint32_t scaled(uint32_t v, double s)
{
	double r = floor(v * s + 0.5);
	return r < 1.0 ? 1 : r > 4294967295.0 ? UINT32_MAX : (uint32_t)r;
}

void mli_decode_target(const struct mli_decode_options *o, uint32_t w, uint32_t h,
		       uint32_t *tw, uint32_t *th)
{
	double s = 1.0;
	uint32_t shorter = w < h ? w : h, longer = w < h ? h : w;
	int constrained = 0;

	if (o->width && o->height) {
		*tw = o->width;
		*th = o->height;
		return;
	}
	if (o->short_side) {
		s = (double)o->short_side / shorter;
		constrained = 1;
	}
	if (o->max_side && (!constrained || (double)o->max_side / longer < s)) {
		s = (double)o->max_side / longer;
		constrained = 1;
	}
	if (!constrained || (s > 1.0 && !o->upscale)) {
		*tw = w;
		*th = h;
		return;
	}
	*tw = scaled(w, s);
	*th = scaled(h, s);
	/* The short side exactly as asked whatever the rounding of s. */
	if (o->short_side && s == (double)o->short_side / shorter) {
		if (w <= h)
			*tw = o->short_side;
		else
			*th = o->short_side;
	}
}

/* Resizes (when the size differs) and orients src [sh, sw, 3] into a new
 * image of upright size [th, tw]; frees src. */
static int finish(uint8_t *src, uint32_t sw, uint32_t sh, uint32_t tw, uint32_t th, int orientation,
		  struct mli_image *img, struct mli_fault *f)
{
	int swaps = mli_orient_swaps(orientation);
	uint32_t rw = swaps ? th : tw, rh = swaps ? tw : th;  /* target, as stored */
	uint8_t *cur = src, *tmp;
	int rc;

	if (rw != sw || rh != sh) {
		if (!(tmp = malloc((size_t)rw * rh * 3))) {
			rc = MLI_ENOMEM;
			goto fail;
		}
		if ((rc = mli_resize(cur, sh, sw, (size_t)sw * 3, 3, tmp, rh, rw)) < 0) {
			free(tmp);
			goto fail;
		}
		free(cur);
		cur = tmp;
	}
	if (orientation != 1) {
		if (!(tmp = malloc((size_t)rw * rh * 3))) {
			rc = MLI_ENOMEM;
			goto fail;
		}
		mli_orient(cur, rh, rw, 3, orientation, tmp);
		free(cur);
		cur = tmp;
	}
	img->pixels = cur;
	img->width = tw;
	img->height = th;
	img->channels = 3;
	return 0;
fail:
	free(cur);
	mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
	return rc;
}

/* An enlarged output is held to the same limit as an input. */
static int too_big(const struct mli_decode_options *o, uint32_t tw, uint32_t th, struct mli_fault *f)
{
	if (!o->max_pixels || (uint64_t)tw * th <= o->max_pixels)
		return 0;
	mli_fault_set(f, MLI_FAULT_BOMB, "output %ux%u is more than %llu pixels", tw, th,
		      (unsigned long long)o->max_pixels);
	return 1;
}

/* Decodes j at scale m/8 and resizes it to a new [rh, rw, 3] *out, the
 * rows going from libjpeg to the resizer a batch at a time, so that they
 * are resized while still in cache and the full decoded image is never
 * held. */
static int decode_resized(struct mli_decoder *dec, struct mli_jpeg *j, int m, int fast, uint32_t rw,
			  uint32_t rh, uint8_t **out, struct mli_fault *f)
{
	struct mli_resizer *r = NULL, **rp = &r;
	uint8_t *rows[MLI_RESIZER_BATCH], *pixels;
	uint32_t sw, sh, n, got;
	int rc;

	*out = NULL;
	if ((rc = mli_jpeg_start(j, m, fast, &sw, &sh, f)) < 0)
		return rc;
	if (!(pixels = malloc((size_t)rw * rh * 3))) {
		rc = MLI_ENOMEM;
		goto nomem;
	}
	if (dec) {
		int k = 0;
		while (k < PLANS && !mli_resizer_matches(dec->plans[k], sh, sw, 3, rh, rw))
			k++;
		if (k == PLANS)
			k = (int)(dec->victim++ % PLANS);
		rp = &dec->plans[k];
	}
	if ((rc = mli_resizer_reuse(rp, sh, sw, 3, pixels, rh, rw)) < 0)
		goto nomem;
	r = *rp;
	while ((n = mli_resizer_rows(r, rows, MLI_RESIZER_BATCH)) > 0) {
		if ((rc = mli_jpeg_read(j, rows, n, &got, f)) < 0)
			goto fail;
		if (!got) {
			mli_fault_set(f, MLI_FAULT_CORRUPT, "no rows decoded");
			rc = MLI_EINVAL;
			goto fail;
		}
		mli_resizer_push(r, got);
	}
	if ((rc = mli_jpeg_finish(j, f)) < 0)
		goto fail;
	if (!dec)
		mli_resizer_free(r);
	*out = pixels;
	return 0;
nomem:
	mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
fail:
	if (!dec)
		mli_resizer_free(r);
	free(pixels);
	return rc;
}

static int decode_jpeg(struct mli_decoder *dec, const uint8_t *data, size_t len,
		       const struct mli_decode_options *o, struct mli_image *img, struct mli_fault *f)
{
	struct mli_jpeg *j;
	struct mli_jpeg_info info;
	uint32_t uw, uh, tw, th, rw, rh, sw = 0, sh = 0;
	uint8_t *pixels;
	int rc, m;

	if ((rc = mli_jpeg_open(&j, data, len, o->max_scans, o->lenient, &info, f)) < 0)
		return rc;
	if (o->max_pixels && (uint64_t)info.width * info.height > o->max_pixels) {
		mli_fault_set(f, MLI_FAULT_BOMB, "%ux%u is more than %llu pixels", info.width,
			      info.height, (unsigned long long)o->max_pixels);
		mli_jpeg_close(j);
		return MLI_EINVAL;
	}
	uw = mli_orient_swaps(info.orientation) ? info.height : info.width;
	uh = mli_orient_swaps(info.orientation) ? info.width : info.height;
	mli_decode_target(o, uw, uh, &tw, &th);
	if (too_big(o, tw, th, f)) {
		mli_jpeg_close(j);
		return MLI_EINVAL;
	}
	rw = mli_orient_swaps(info.orientation) ? th : tw;
	rh = mli_orient_swaps(info.orientation) ? tw : th;
	/* The smallest of the scales libjpeg-turbo has fast paths for that
	 * still covers the target. Its other M/8 scales (3/8, 5/8, 6/8, 7/8)
	 * run portable C IDCTs, with chroma at twice that size (10x10,
	 * 12x12): measured on 640-pixel photographs going to 256, 5/8 or 6/8
	 * then the resize took 1.36 times as long as a full decode and the
	 * resize, and came out 42-51 dB from it rather than the same. */
	for (m = 1; m < 8; m *= 2) {
		mli_jpeg_scaled_size(j, m, &sw, &sh);
		if (sw >= rw && sh >= rh)
			break;
	}
	if (sw == rw && sh == rh) {
		rc = mli_jpeg_decode(j, m, o->fast, &pixels, &sw, &sh, f);
		mli_jpeg_close(j);
		if (rc < 0)
			return rc;
		return finish(pixels, sw, sh, tw, th, info.orientation, img, f);
	}
	rc = decode_resized(dec, j, m, o->fast, rw, rh, &pixels, f);
	mli_jpeg_close(j);
	if (rc < 0)
		return rc;
	return finish(pixels, rw, rh, tw, th, info.orientation, img, f);
}

static int decode_png(const uint8_t *data, size_t len, const struct mli_decode_options *o,
		      struct mli_image *img, struct mli_fault *f)
{
	uint32_t w, h, tw, th;
	uint8_t *pixels;
	int rc;

	if ((rc = mli_png_decode(data, len, o->max_pixels, &pixels, &w, &h, f)) < 0)
		return rc;
	mli_decode_target(o, w, h, &tw, &th);
	if (too_big(o, tw, th, f)) {
		free(pixels);
		return MLI_EINVAL;
	}
	return finish(pixels, w, h, tw, th, 1, img, f);
}

int mli_decode(const uint8_t *data, size_t len, const struct mli_decode_options *o,
	       struct mli_image *img, struct mli_fault *f)
{
	return mli_decode_with(NULL, data, len, o, img, f);
}

int mli_decode_with(struct mli_decoder *dec, const uint8_t *data, size_t len,
		    const struct mli_decode_options *o, struct mli_image *img, struct mli_fault *f)
{
	int format = mli_image_sniff(data, len);

	memset(img, 0, sizeof *img);
	f->reason = MLI_FAULT_NONE;
	f->detail[0] = '\0';
	if (len == 0) {
		mli_fault_set(f, MLI_FAULT_EMPTY, "no bytes");
		return MLI_EINVAL;
	}
	switch (format) {
	case MLI_FORMAT_JPEG:
		return decode_jpeg(dec, data, len, o, img, f);
	case MLI_FORMAT_PNG:
		return decode_png(data, len, o, img, f);
	case MLI_FORMAT_UNKNOWN:
		mli_fault_set(f, MLI_FAULT_FORMAT, "not an image format known here");
		return MLI_EINVAL;
	}
	mli_fault_set(f, MLI_FAULT_FORMAT, "%s is not decoded here", mli_image_media(format));
	return MLI_EINVAL;
}

/* unit-decode.c: EXIF orientation, the orientation walk, the resize, and
 * the whole decode on the sample photographs of the original release:
 * sizes, DCT scaling against djpeg's own output, colour spaces, the
 * re-encode round trip and faults. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "decode.h"
#include "exif.h"
#include "jpeg.h"
#include "mli.h"
#include "orient.h"
#include "pngio.h"
#include "resize.h"
#include "resize_impl.h"
#include "tap.h"

struct buf {
	uint8_t *p;
	size_t n;
};

static char images[4096];

static struct buf load(const char *name)
{
	char path[8192];
	struct buf b = { NULL, 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/%s", images, name);
	if (!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0
	    || fseek(f, 0, SEEK_SET) < 0 || !(b.p = malloc((size_t)n + 1))
	    || fread(b.p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	b.n = (size_t)n;
	return b;
}

/* Channel means of pixels [n, 3]. */
static void means(const uint8_t *p, size_t n, double m[3])
{
	double s[3] = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			s[c] += p[3 * i + c];
	for (int c = 0; c < 3; c++)
		m[c] = s[c] / (double)n;
}

/* djpeg's decode of a sample at scale 1/denom, as binary PPM, with
 * options opts besides. */
static int djpeg(const char *name, int denom, const char *opts, uint8_t **pix, uint32_t *w, uint32_t *h)
{
	char cmd[8400];
	unsigned ww, hh, max;
	FILE *f;

	snprintf(cmd, sizeof cmd, "djpeg %s -scale 1/%d -ppm '%s/%s'", opts, denom, images, name);
	if (!(f = popen(cmd, "r")))
		return -1;
	if (fscanf(f, "P6 %u %u %u", &ww, &hh, &max) != 3 || max != 255 || fgetc(f) == EOF) {
		pclose(f);
		return -1;
	}
	*pix = malloc((size_t)ww * hh * 3);
	if (fread(*pix, 1, (size_t)ww * hh * 3, f) != (size_t)ww * hh * 3) {
		pclose(f);
		return -1;
	}
	*w = ww;
	*h = hh;
	return pclose(f) == 0 ? 0 : -1;
}

/* An APP1 payload "Exif\0\0" + TIFF with one IFD0 entry (tag, type, count, value). */
static size_t exif_segment(uint8_t *p, int big, uint16_t tag, uint16_t type, uint32_t count, uint16_t value)
{
	uint8_t *t = p + 6;
	memcpy(p, "Exif\0\0", 6);
#define P16(q, v) (big ? ((q)[0] = (uint8_t)((v) >> 8), (q)[1] = (uint8_t)(v)) : ((q)[0] = (uint8_t)(v), (q)[1] = (uint8_t)((v) >> 8)))
#define P32(q, v) (big ? (P16(q, (v) >> 16), P16((q) + 2, (v) & 0xffff)) : (P16(q, (v) & 0xffff), P16((q) + 2, (v) >> 16)))
	memcpy(t, big ? "MM" : "II", 2);
	P16(t + 2, 42);
	P32(t + 4, 8u);
	P16(t + 8, 1);
	P16(t + 10, tag);
	P16(t + 12, type);
	P32(t + 14, count);
	P16(t + 18, value);
	P16(t + 20, 0);
	P32(t + 22, 0u);
	return 6 + 26;
}

static void test_exif(struct tap *tap)
{
	uint8_t seg[64];
	size_t n;

	for (int big = 0; big < 2; big++)
		for (int o = 1; o <= 8; o++) {
			n = exif_segment(seg, big, 0x0112, 3, 1, (uint16_t)o);
			ASSERT_EQ(mli_exif_orientation(seg, n), o);
		}
	n = exif_segment(seg, 1, 0x0112, 3, 1, 9);
	ASSERT_EQ(mli_exif_orientation(seg, n), 1);
	n = exif_segment(seg, 0, 0x0110, 3, 1, 6);
	ASSERT_EQ(mli_exif_orientation(seg, n), 1);
	n = exif_segment(seg, 0, 0x0112, 4, 1, 6);
	ASSERT_EQ(mli_exif_orientation(seg, n), 1);
	/* Cut short at every length: never read past the end. */
	n = exif_segment(seg, 0, 0x0112, 3, 1, 6);
	for (size_t k = 0; k < n - 6; k++) {
		uint8_t *copy = malloc(k);
		memcpy(copy, seg, k);
		ASSERT_EQ(mli_exif_orientation(copy, k), 1);
		free(copy);
	}
	/* An IFD offset pointing far away. */
	seg[6 + 4] = 0xff;
	ASSERT_EQ(mli_exif_orientation(seg, n), 1);
}

static void test_orient(struct tap *tap)
{
	/* S is 2 rows x 3 columns, pixel value 10 * row + column. */
	const uint8_t s[6] = { 0, 1, 2, 10, 11, 12 };
	static const uint8_t want[9][6] = {
		{ 0 }, { 0, 1, 2, 10, 11, 12 }, { 2, 1, 0, 12, 11, 10 }, { 12, 11, 10, 2, 1, 0 },
		{ 10, 11, 12, 0, 1, 2 }, { 0, 10, 1, 11, 2, 12 }, { 10, 0, 11, 1, 12, 2 },
		{ 12, 2, 11, 1, 10, 0 }, { 2, 12, 1, 11, 0, 10 },
	};
	uint8_t d[6], rgb[18], drgb[18];

	for (int o = 1; o <= 8; o++) {
		mli_orient(s, 2, 3, 1, o, d);
		ASSERT_MEM_EQ(d, want[o], 6);
	}
	for (int i = 0; i < 6; i++)
		rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = s[i];
	mli_orient(rgb, 2, 3, 3, 6, drgb);
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(drgb[3 * i + 2], want[6][i]);
	ASSERT(mli_orient_swaps(6) && !mli_orient_swaps(3));
}

/* An independent resize in doubles: the same triangle filter, computed
 * directly per output pixel in both dimensions at once. */
static double ref_weight(double x)
{
	x = fabs(x);
	return x < 1 ? 1 - x : 0;
}

static void ref_resize(const uint8_t *src, int sh, int sw, int c, double *dst, int dh, int dw)
{
	double sy = (double)sh / dh, sx = (double)sw / dw;
	double fy = sy > 1 ? sy : 1, fx = sx > 1 ? sx : 1;

	for (int y = 0; y < dh; y++)
		for (int x = 0; x < dw; x++)
			for (int ch = 0; ch < c; ch++) {
				double cy = (y + 0.5) * sy, cx = (x + 0.5) * sx, s = 0, ws = 0;
				for (int v = 0; v < sh; v++) {
					double wy = ref_weight((v + 0.5 - cy) / fy);
					if (wy == 0)
						continue;
					for (int u = 0; u < sw; u++) {
						double w = wy * ref_weight((u + 0.5 - cx) / fx);
						s += w * src[((size_t)v * sw + u) * c + ch];
						ws += w;
					}
				}
				dst[((size_t)y * dw + x) * c + ch] = ws > 0 ? s / ws : 0;
			}
}

static void test_resize(struct tap *tap)
{
	static const int sizes[][4] = {
		{ 17, 23, 5, 7 }, { 64, 48, 16, 12 }, { 31, 29, 31, 29 }, { 10, 10, 3, 17 },
		{ 7, 5, 14, 10 }, { 100, 3, 9, 1 }, { 1, 1, 4, 4 }, { 250, 333, 64, 85 },
	};
	uint32_t seed = 12345;

	for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
		int sh = sizes[t][0], sw = sizes[t][1], dh = sizes[t][2], dw = sizes[t][3];
		for (int c = 1; c <= 4; c += 2) {
			uint8_t *src = malloc((size_t)sh * sw * c), *dst = malloc((size_t)dh * dw * c);
			double *ref = malloc(sizeof *ref * dh * dw * c);
			for (int i = 0; i < sh * sw * c; i++) {
				seed = seed * 1103515245 + 12345;
				src[i] = (uint8_t)(seed >> 16);
			}
			ASSERT_EQ(mli_resize(src, (uint32_t)sh, (uint32_t)sw, (size_t)sw * c, (uint32_t)c, dst,
					     (uint32_t)dh, (uint32_t)dw), 0);
			ref_resize(src, sh, sw, c, ref, dh, dw);
			for (int i = 0; i < dh * dw * c; i++)
				if (fabs(dst[i] - ref[i]) > 1.5)
					TAP_FAIL("%dx%d -> %dx%d c=%d: pixel %d is %u, reference %.2f",
						 sh, sw, dh, dw, c, i, dst[i], ref[i]);
			if (sh == dh && sw == dw)
				ASSERT_MEM_EQ(src, dst, (size_t)sh * sw * c);
			free(src);
			free(dst);
			free(ref);
		}
	}
	/* A one-pixel checkerboard halved is flat grey: no aliasing. */
	{
		uint8_t src[64 * 64], dst[32 * 32];
		for (int y = 0; y < 64; y++)
			for (int x = 0; x < 64; x++)
				src[y * 64 + x] = (uint8_t)(((x + y) & 1) * 255);
		ASSERT_EQ(mli_resize(src, 64, 64, 64, 1, dst, 21, 21), 0);
		for (int i = 0; i < 21 * 21; i++)
			if (dst[i] < 110 || dst[i] > 145)
				TAP_FAIL("checkerboard pixel %d is %u", i, dst[i]);
	}
	ASSERT_EQ(mli_resize((const uint8_t *)"", 0, 1, 1, 1, (uint8_t *)images, 1, 1), MLI_EINVAL);
}

/* Resizes src [sh, sw, 3] with the streaming resizer under kernels simd,
 * feeding rows in batches of 1, 2, ... up to MLI_RESIZER_BATCH. */
static int resize_streamed(const uint8_t *src, uint32_t sh, uint32_t sw, uint8_t *dst, uint32_t dh,
			   uint32_t dw, int simd)
{
	struct mli_resizer *r;
	uint8_t *rows[MLI_RESIZER_BATCH];
	uint32_t y = 0, n, want = 1;
	int rc;

	if ((rc = mli__resizer_new(&r, sh, sw, 3, dst, dh, dw, simd)) < 0)
		return rc;
	while ((n = mli_resizer_rows(r, rows, want)) > 0) {
		for (uint32_t k = 0; k < n; k++)
			memcpy(rows[k], src + (size_t)(y + k) * sw * 3, (size_t)sw * 3);
		y += n;
		mli_resizer_push(r, n);
		want = want % MLI_RESIZER_BATCH + 1;
	}
	rc = mli_resizer_done(r) && y == sh ? 0 : -1;
	mli_resizer_free(r);
	return rc;
}

/* Every SIMD kernel set (AVX2, and AVX-512 where the CPU has it) gives
 * the reference's bytes exactly, on odd sizes, both ways, with narrow
 * and wide filters, whole or streamed row by row: among them the sizes
 * of 640-pixel photos going to 256 on the short side. */
static void test_resize_simd_matches_ref(struct tap *tap)
{
	static const uint32_t fixed[][4] = {
		{ 427, 640, 256, 384 }, { 400, 640, 256, 410 }, { 480, 640, 256, 341 },
		{ 960, 1280, 256, 341 }, { 342, 456, 256, 341 }, { 300, 17, 200, 15 },
	};
	uint32_t seed = 777;

	if (!mli_cpu_has_avx2_fma()) {
		printf("# no AVX2 on this CPU: the reference is all there is\n");
		return;
	}
	for (int t = 0; t < 72; t++) {
		uint32_t sh, sw, dh, dw;
		if (t < (int)(sizeof fixed / sizeof fixed[0])) {
			sh = fixed[t][0];
			sw = fixed[t][1];
			dh = fixed[t][2];
			dw = fixed[t][3];
		} else {
			seed = seed * 1103515245 + 12345;
			sh = 1 + (seed >> 8) % 300;
			seed = seed * 1103515245 + 12345;
			sw = 1 + (seed >> 8) % 300;
			seed = seed * 1103515245 + 12345;
			dh = 1 + (seed >> 8) % (t % 3 ? 150 : 400);
			seed = seed * 1103515245 + 12345;
			dw = 1 + (seed >> 8) % (t % 3 ? 150 : 400);
			if (t % 4 == 0) {
				/* Shrinking by less than 2.5, as from a DCT scale. */
				dh = sh - sh * (seed % 60) / 100;
				dw = sw - sw * (seed % 59) / 100;
			}
		}
		size_t n = (size_t)sh * sw * 3, m = (size_t)dh * dw * 3;
		uint8_t *src = malloc(n), *a = malloc(m), *b = malloc(m);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			src[i] = (uint8_t)(seed >> 16);
		}
		ASSERT_EQ(mli__resize(src, sh, sw, (size_t)sw * 3, 3, a, dh, dw, MLI__RESIZE_REF), 0);
		for (int simd = MLI__RESIZE_BEST; simd <= MLI__RESIZE_AVX2; simd++) {
			memset(b, 0, m);
			ASSERT_EQ(mli__resize(src, sh, sw, (size_t)sw * 3, 3, b, dh, dw, simd), 0);
			if (memcmp(a, b, m) != 0)
				TAP_FAIL("%ux%u -> %ux%u: kernels %d and the reference differ", sh, sw, dh, dw, simd);
			memset(b, 0, m);
			ASSERT_EQ(resize_streamed(src, sh, sw, b, dh, dw, simd), 0);
			if (memcmp(a, b, m) != 0)
				TAP_FAIL("%ux%u -> %ux%u: streamed with kernels %d differs", sh, sw, dh, dw, simd);
		}
		free(src);
		free(a);
		free(b);
	}
}

static const char *const samples[4] = { "im_0.jpg", "im_1.jpg", "im_2.jpg", "im_3.jpg" };
static const uint32_t sample_w[4] = { 3648, 1280, 1600, 1024 }, sample_h[4] = { 2736, 960, 1067, 768 };

static void test_sample_sizes(struct tap *tap)
{
	struct mli_decode_options o = { .max_pixels = 100000000, .max_scans = 100 };
	struct mli_image img;
	struct mli_fault f;

	for (int i = 0; i < 4; i++) {
		struct buf b = load(samples[i]);
		uint32_t w = sample_w[i], h = sample_h[i];

		o.short_side = 256;
		o.max_side = 0;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(img.height, 256);
		ASSERT_EQ(img.width, (uint32_t)floor(w * 256.0 / h + 0.5));
		ASSERT_EQ(img.channels, 3);
		free(img.pixels);

		o.short_side = 0;
		o.max_side = 500;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(img.width, 500);
		ASSERT_EQ(img.height, (uint32_t)floor(h * 500.0 / w + 0.5));
		free(img.pixels);

		/* Never enlarged unless asked. */
		o.max_side = 0;
		o.short_side = 4000;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(img.width, w);
		ASSERT_EQ(img.height, h);
		free(img.pixels);
		if (i == 3) {
			o.upscale = 1;
			o.short_side = 1000;
			ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
			ASSERT_EQ(img.height, 1000);
			ASSERT_EQ(img.width, 1333);
			free(img.pixels);
			o.upscale = 0;
		}

		o.short_side = 0;
		o.width = 224;
		o.height = 100;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(img.width, 224);
		ASSERT_EQ(img.height, 100);
		free(img.pixels);
		o.width = o.height = 0;
		free(b.p);
	}
}

/* At the size of a DCT scale, the decode is djpeg's at that scale, byte
 * for byte (same library, same scaled IDCT, no resize); at 256 on the
 * short side its colour means are djpeg's full-size means. */
static void test_against_djpeg(struct tap *tap)
{
	static const int denoms[] = { 8, 4, 2 };

	for (int i = 0; i < 4; i++) {
		struct buf b = load(samples[i]);
		struct mli_decode_options o = { .max_pixels = 100000000, .max_scans = 100 };
		struct mli_image img;
		struct mli_fault f;
		uint8_t *ref;
		uint32_t w, h;
		double m1[3], m2[3];

		for (size_t d = 0; d < sizeof denoms / sizeof denoms[0]; d++) {
			ASSERT_EQ(djpeg(samples[i], denoms[d], "", &ref, &w, &h), 0);
			o.width = w;
			o.height = h;
			ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
			ASSERT_EQ(img.width, w);
			ASSERT_EQ(img.height, h);
			ASSERT_MEM_EQ(img.pixels, ref, (size_t)w * h * 3);
			free(img.pixels);
			free(ref);
		}
		ASSERT_EQ(djpeg(samples[i], 1, "", &ref, &w, &h), 0);
		means(ref, (size_t)w * h, m1);
		free(ref);
		o.width = o.height = 0;
		o.short_side = 256;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		means(img.pixels, (size_t)img.width * img.height, m2);
		for (int c = 0; c < 3; c++)
			if (fabs(m1[c] - m2[c]) > 1.0)
				TAP_FAIL("%s channel %d: mean %.2f, djpeg %.2f", samples[i], c, m2[c], m1[c]);
		free(img.pixels);
		free(b.p);
	}
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s == 0 ? 99.0 : 10 * log10(255.0 * 255.0 * (double)n / s);
}

/* --fast is libjpeg's fast IDCT and plain upsampling: at the size of a
 * DCT scale it is djpeg -dct fast -nosmooth byte for byte; at 256 on the
 * short side it stays close to the default decode, on the camera
 * originals and on 640-pixel re-encodings of them (where it decodes at
 * full scale, the case it changes most). */
static void test_fast(struct tap *tap)
{
	static const int denoms[] = { 8, 4, 2, 1 };

	for (int i = 0; i < 4; i++) {
		struct buf b = load(samples[i]);
		struct mli_decode_options o = { .max_pixels = 100000000, .max_scans = 100, .fast = 1 };
		struct mli_decode_options def = { .max_pixels = 100000000, .max_scans = 100 };
		struct mli_image img, ref, small;
		struct mli_fault f;
		uint8_t *pix, *jpg;
		uint32_t w, h;
		size_t len;

		for (size_t d = i == 0 ? 0 : 1; d < sizeof denoms / sizeof denoms[0] - (i == 0); d++) {
			ASSERT_EQ(djpeg(samples[i], denoms[d], "-dct fast -nosmooth", &pix, &w, &h), 0);
			o.width = w;
			o.height = h;
			ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
			ASSERT_EQ(img.width, w);
			ASSERT_EQ(img.height, h);
			ASSERT_MEM_EQ(img.pixels, pix, (size_t)w * h * 3);
			free(img.pixels);
			free(pix);
		}
		o.width = o.height = 0;
		o.short_side = def.short_side = 256;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(mli_decode(b.p, b.n, &def, &ref, &f), 0);
		ASSERT_EQ(img.width, ref.width);
		if (psnr(img.pixels, ref.pixels, (size_t)img.width * img.height * 3) < 40.0)
			TAP_FAIL("%s: --fast at 256 is %.1f dB from the default", samples[i],
				 psnr(img.pixels, ref.pixels, (size_t)img.width * img.height * 3));
		free(img.pixels);
		free(ref.pixels);

		def.short_side = 0;
		def.max_side = 640;
		ASSERT_EQ(mli_decode(b.p, b.n, &def, &small, &f), 0);
		ASSERT_EQ(mli_jpeg_encode(small.pixels, small.width, small.height, 90, &jpg, &len), 0);
		def.max_side = 0;
		def.short_side = 256;
		ASSERT_EQ(mli_decode(jpg, len, &o, &img, &f), 0);
		ASSERT_EQ(mli_decode(jpg, len, &def, &ref, &f), 0);
		ASSERT_EQ(img.width, ref.width);
		ASSERT_EQ(img.height, ref.height);
		if (psnr(img.pixels, ref.pixels, (size_t)img.width * img.height * 3) < 40.0)
			TAP_FAIL("%s at 640: --fast at 256 is %.1f dB from the default", samples[i],
				 psnr(img.pixels, ref.pixels, (size_t)img.width * img.height * 3));
		free(img.pixels);
		free(ref.pixels);
		free(small.pixels);
		free(jpg);
		free(b.p);
	}
}

/* One decoder through images of changing and repeated sizes gives what
 * mli_decode gives each alone. */
static void test_decoder_reuse(struct tap *tap)
{
	static const int order[] = { 1, 1, 2, 1, 3, 3, 0, 2, 2 };
	static const uint32_t sides[] = { 256, 256, 256, 200, 200, 256, 256, 256, 300 };
	struct mli_decoder *dec;
	struct buf b[4];

	for (int i = 0; i < 4; i++)
		b[i] = load(samples[i]);
	ASSERT_EQ(mli_decoder_new(&dec), 0);
	for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
		struct mli_decode_options o = { .max_pixels = 100000000, .max_scans = 100,
						.short_side = sides[k] };
		struct mli_image a, c;
		struct mli_fault f;
		ASSERT_EQ(mli_decode_with(dec, b[order[k]].p, b[order[k]].n, &o, &a, &f), 0);
		ASSERT_EQ(mli_decode(b[order[k]].p, b[order[k]].n, &o, &c, &f), 0);
		ASSERT_EQ(a.width, c.width);
		ASSERT_EQ(a.height, c.height);
		ASSERT_MEM_EQ(a.pixels, c.pixels, (size_t)a.width * a.height * 3);
		free(a.pixels);
		free(c.pixels);
	}
	mli_decoder_free(dec);
	for (int i = 0; i < 4; i++)
		free(b[i].p);
}

/* Finds im_1's EXIF orientation entry (big-endian: tag 0112, SHORT, 1)
 * and sets it to o. */
static int set_orientation(struct buf *b, int o)
{
	static const uint8_t entry[8] = { 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01 };

	for (size_t i = 0; i + 10 < b->n && i < 65536; i++)
		if (!memcmp(b->p + i, entry, 8)) {
			b->p[i + 8] = 0;
			b->p[i + 9] = (uint8_t)o;
			return 0;
		}
	return -1;
}

static void test_orientation_real(struct tap *tap)
{
	struct buf b = load("im_1.jpg");
	struct mli_decode_options o = { .short_side = 256, .max_pixels = 100000000 };
	struct mli_image up, img;
	struct mli_fault f;
	uint8_t *turned;

	ASSERT_EQ(mli_decode(b.p, b.n, &o, &up, &f), 0);
	ASSERT_EQ(up.width, 341);
	for (int orient = 2; orient <= 8; orient++) {
		ASSERT_EQ(set_orientation(&b, orient), 0);
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		/* Sizes apply to the upright image: 256 is still the short side. */
		ASSERT_EQ(img.width, mli_orient_swaps(orient) ? 256 : 341);
		ASSERT_EQ(img.height, mli_orient_swaps(orient) ? 341 : 256);
		turned = malloc((size_t)up.width * up.height * 3);
		mli_orient(up.pixels, up.height, up.width, 3, orient, turned);
		ASSERT_MEM_EQ(img.pixels, turned, (size_t)up.width * up.height * 3);
		free(turned);
		free(img.pixels);
	}
	free(up.pixels);
	free(b.p);
}

/* A JPEG of a 64x48 image in colour space cs (JCS_CMYK data given as
 * Adobe's inverted CMYK) made with libjpeg directly. */
static struct buf make_jpeg(const uint8_t *pix, int comps, J_COLOR_SPACE in, J_COLOR_SPACE cs)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long len = 0;
	struct buf b;

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &len);
	c.image_width = 64;
	c.image_height = 48;
	c.input_components = comps;
	c.in_color_space = in;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, cs);
	jpeg_set_quality(&c, 95, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < 48) {
		JSAMPROW row = (JSAMPROW)(pix + (size_t)c.next_scanline * 64 * comps);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	b.p = out;
	b.n = len;
	return b;
}

static void test_colour_spaces(struct tap *tap)
{
	uint8_t rgb[64 * 48 * 3], cmyk[64 * 48 * 4], gray[64 * 48];
	struct mli_decode_options o = { .max_pixels = 1000000 };
	J_COLOR_SPACE spaces[2] = { JCS_CMYK, JCS_YCCK };
	struct mli_image img;
	struct mli_fault f;

	/* Smooth colours (JPEG keeps them well) with a real black component. */
	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 64; x++) {
			uint8_t *p = rgb + (y * 64 + x) * 3, *q = cmyk + (y * 64 + x) * 4;
			p[0] = (uint8_t)(40 + 3 * x);
			p[1] = (uint8_t)(200 - 3 * y);
			p[2] = (uint8_t)(100 + x + y);
			unsigned k = 255 - (p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]));
			/* Inverted: stored = 255 - ink. */
			for (int ch = 0; ch < 3; ch++)
				q[ch] = (uint8_t)(255 - (k == 255 ? 0 : (255 * (255 - p[ch] - k) + (255 - k) / 2) / (255 - k)));
			q[3] = (uint8_t)(255 - k);
			gray[y * 64 + x] = p[1];
		}
	for (int s = 0; s < 2; s++) {
		struct buf b = make_jpeg(cmyk, 4, JCS_CMYK, spaces[s]);
		double err = 0;
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		ASSERT_EQ(img.width, 64);
		ASSERT_EQ(img.height, 48);
		for (int i = 0; i < 64 * 48 * 3; i++)
			err += fabs((double)img.pixels[i] - rgb[i]);
		err /= 64 * 48 * 3;
		if (err > 3.0)
			TAP_FAIL("%s: mean error %.2f", s ? "YCCK" : "CMYK", err);
		free(img.pixels);
		/* Decoded at 1/2 and resized as the rows come (the CMYK rows
		 * converted one by one): the bytes of the 1/2 decode resized
		 * whole. */
		{
			struct mli_decode_options half = o, small = o;
			struct mli_image h, sm;
			uint8_t want[27 * 20 * 3];
			half.width = 32;
			half.height = 24;
			small.short_side = 20;
			ASSERT_EQ(mli_decode(b.p, b.n, &half, &h, &f), 0);
			ASSERT_EQ(mli_decode(b.p, b.n, &small, &sm, &f), 0);
			ASSERT_EQ(sm.width, 27);
			ASSERT_EQ(sm.height, 20);
			ASSERT_EQ(mli_resize(h.pixels, 24, 32, 32 * 3, 3, want, 20, 27), 0);
			ASSERT_MEM_EQ(sm.pixels, want, sizeof want);
			free(h.pixels);
			free(sm.pixels);
		}
		free(b.p);
	}
	{
		struct buf b = make_jpeg(gray, 1, JCS_GRAYSCALE, JCS_GRAYSCALE);
		ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), 0);
		for (int i = 0; i < 64 * 48; i++) {
			uint8_t *p = img.pixels + 3 * i;
			ASSERT(p[0] == p[1] && p[1] == p[2]);
			ASSERT(abs(p[0] - gray[i]) <= 3);
		}
		free(img.pixels);
		free(b.p);
	}
}

static void test_png(struct tap *tap)
{
	png_image pi;
	uint8_t rgba[40 * 30 * 4];
	uint8_t *out = NULL;
	png_alloc_size_t len = 0;
	struct mli_decode_options o = { .max_pixels = 1000000 };
	struct mli_image img;
	struct mli_fault f;

	for (int i = 0; i < 40 * 30; i++) {
		rgba[4 * i] = (uint8_t)i;
		rgba[4 * i + 1] = (uint8_t)(i * 7);
		rgba[4 * i + 2] = 200;
		rgba[4 * i + 3] = i < 600 ? 255 : 0;
	}
	memset(&pi, 0, sizeof pi);
	pi.version = PNG_IMAGE_VERSION;
	pi.width = 40;
	pi.height = 30;
	pi.format = PNG_FORMAT_RGBA;
	ASSERT(png_image_write_get_memory_size(pi, len, 0, rgba, 0, NULL));
	out = malloc(len);
	ASSERT(png_image_write_to_memory(&pi, out, &len, 0, rgba, 0, NULL));
	ASSERT_EQ(mli_image_sniff(out, len), MLI_FORMAT_PNG);
	ASSERT_EQ(mli_decode(out, len, &o, &img, &f), 0);
	ASSERT_EQ(img.width, 40);
	ASSERT_EQ(img.height, 30);
	/* Opaque pixels as they are, transparent ones white. */
	ASSERT_MEM_EQ(img.pixels + 3 * 100, ((uint8_t[]){ 100, 188, 200 }), 3);
	ASSERT_MEM_EQ(img.pixels + 3 * 1000, ((uint8_t[]){ 255, 255, 255 }), 3);
	free(img.pixels);
	o.short_side = 15;
	ASSERT_EQ(mli_decode(out, len, &o, &img, &f), 0);
	ASSERT_EQ(img.width, 20);
	ASSERT_EQ(img.height, 15);
	free(img.pixels);
	o.max_pixels = 1000;
	ASSERT_EQ(mli_decode(out, len, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_BOMB);
	o.max_pixels = 1000000;
	ASSERT_EQ(mli_decode(out, len / 2, &o, &img, &f), MLI_EINVAL);
	ASSERT(f.reason == MLI_FAULT_TRUNCATED || f.reason == MLI_FAULT_CORRUPT);
	free(out);
}

static void test_faults(struct tap *tap)
{
	struct buf b = load("im_3.jpg"), p = load("im_2.jpg");
	struct mli_decode_options o = { .short_side = 64, .max_pixels = 100000000, .max_scans = 100 };
	struct mli_image img;
	struct mli_fault f;

	ASSERT_EQ(mli_decode(b.p, 0, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_EMPTY);
	ASSERT_EQ(mli_decode((const uint8_t *)"<!DOCTYPE html><html>", 21, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_FORMAT);
	ASSERT_EQ(mli_decode((const uint8_t *)"GIF89a\1\0\1\0", 10, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_FORMAT);
	ASSERT_EQ(mli_decode(b.p, b.n / 2, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_TRUNCATED);
	ASSERT(strstr(f.detail, "Premature end"));
	ASSERT_EQ(mli_decode(b.p, 2, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_FORMAT);
	ASSERT_EQ(mli_decode(b.p, 200, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_TRUNCATED);
	/* Lenient: the missing part is filled in and the image comes out. */
	o.lenient = 1;
	ASSERT_EQ(mli_decode(b.p, b.n / 2, &o, &img, &f), 0);
	ASSERT_EQ(img.height, 64);
	free(img.pixels);
	o.lenient = 0;
	o.max_pixels = 1024 * 768 - 1;
	ASSERT_EQ(mli_decode(b.p, b.n, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_BOMB);
	o.max_pixels = 100000000;
	/* im_2 is progressive: its scans counted against the cap. */
	o.max_scans = 3;
	ASSERT_EQ(mli_decode(p.p, p.n, &o, &img, &f), MLI_EINVAL);
	ASSERT_EQ(f.reason, MLI_FAULT_SCANS);
	o.max_scans = 100;
	ASSERT_EQ(mli_decode(p.p, p.n, &o, &img, &f), 0);
	free(img.pixels);
	/* Flipped bits in the entropy-coded data: an error, never a crash. */
	for (int k = 0; k < 40; k++) {
		uint8_t *copy = malloc(b.n);
		memcpy(copy, b.p, b.n);
		copy[1000 + (size_t)k * 3001 % (b.n - 2000)] ^= (uint8_t)(1u << (k % 8));
		int rc = mli_decode(copy, b.n, &o, &img, &f);
		if (rc == 0)
			free(img.pixels);
		else
			ASSERT(f.reason == MLI_FAULT_CORRUPT || f.reason == MLI_FAULT_TRUNCATED);
		free(copy);
	}
	free(b.p);
	free(p.p);
}

static void test_encode_round_trip(struct tap *tap)
{
	struct buf b = load("im_1.jpg");
	struct mli_decode_options o = { .short_side = 256, .max_pixels = 100000000 };
	struct mli_image a, c;
	struct mli_fault f;
	uint8_t *jpg;
	size_t len;
	double err = 0;

	ASSERT_EQ(mli_decode(b.p, b.n, &o, &a, &f), 0);
	ASSERT_EQ(mli_jpeg_encode(a.pixels, a.width, a.height, 90, &jpg, &len), 0);
	ASSERT_EQ(mli_image_sniff(jpg, len), MLI_FORMAT_JPEG);
	o.short_side = 0;
	ASSERT_EQ(mli_decode(jpg, len, &o, &c, &f), 0);
	ASSERT_EQ(c.width, a.width);
	ASSERT_EQ(c.height, a.height);
	for (size_t i = 0; i < (size_t)a.width * a.height * 3; i++)
		err += fabs((double)a.pixels[i] - c.pixels[i]);
	err /= (double)a.width * a.height * 3;
	if (err > 4.0)
		TAP_FAIL("quality 90 round trip: mean error %.2f", err);
	ASSERT(err > 0.0);
	free(jpg);
	ASSERT_EQ(mli_jpeg_encode(a.pixels, a.width, a.height, 0, &jpg, &len), MLI_EINVAL);
	ASSERT(jpg == NULL);
	free(a.pixels);
	free(c.pixels);
	free(b.p);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	const char *data = getenv("MLI_DATA");

	snprintf(images, sizeof images, "%s/images", data ? data : "../shared/data/tencent-ml-images");
	RUN(test_exif);
	RUN(test_orient);
	RUN(test_resize);
	RUN(test_resize_simd_matches_ref);
	RUN(test_sample_sizes);
	RUN(test_against_djpeg);
	RUN(test_fast);
	RUN(test_decoder_reuse);
	RUN(test_orientation_real);
	RUN(test_colour_spaces);
	RUN(test_png);
	RUN(test_faults);
	RUN(test_encode_round_trip);
	return tap_done(tap);
}

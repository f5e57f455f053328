/* unit-augment.c: the augmentation's random choices over many draws
 * against the distributions it specifies, and its geometry and colour
 * operations exactly, on images whose pixels encode their coordinates. */
#include <math.h>
#include <stdlib.h>

#include "augment.h"
#include "augment_impl.h"
#include "mli.h"
#include "random.h"
#include "resize.h"
#include "tap.h"

/* Pixel (y, x) channel k of a coordinate image. */
static uint8_t code(uint32_t y, uint32_t x, uint32_t k)
{
	return (uint8_t)(y * 7 + x * 13 + k * 50);
}

static uint8_t *coord_image(uint32_t h, uint32_t w, uint32_t c)
{
	uint8_t *p = malloc((size_t)h * w * c);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			for (uint32_t k = 0; k < c; k++)
				p[((size_t)y * w + x) * c + k] = code(y, x, k);
	return p;
}

/* Whether the mean of n draws is within 5 standard errors of mu, for a
 * distribution of variance var. */
static int mean_ok(double sum, double n, double mu, double var)
{
	return fabs(sum / n - mu) < 5 * sqrt(var / n);
}

enum { DRAWS = 20000 };

/* The default recipe on a 256 x 341 image (mli-decode -s 256 of a 4:3
 * photograph). */
static void test_draw_rates(struct tap *tap)
{
	struct mli_augment_params p;
	struct mli_augment_draw d;
	double flips = 0, rot = 0, angle = 0, angle2 = 0, c1 = 0, c2 = 0;
	double br = 0, sat = 0, hue = 0, con = 0, whole = 0;
	char key[32];

	mli_augment_defaults(&p);
	for (int i = 0; i < DRAWS; i++) {
		struct mli_rng r;
		int n = snprintf(key, sizeof key, "img-%d.jpg", i);
		mli_rng_init(&r, 1, key, (size_t)n, 0);
		mli_augment_draw(&p, &r, 256, 341, &d);
		/* Every box lies in the image; one that fitted covers 70% to
		 * 100% of it (up to rounding) in the shape asked. */
		ASSERT(d.w >= 1 && d.h >= 1 && d.x + d.w <= 341 && d.y + d.h <= 256);
		if (d.whole) {
			ASSERT(d.w == 341 && d.h == 256 && d.x == 0 && d.y == 0);
			whole++;
		} else {
			double frac = (double)d.w * d.h / (256.0 * 341);
			double aspect = (double)d.w / d.h;
			ASSERT(frac > 0.69 && frac <= 1.0);
			ASSERT(aspect > 0.74 && aspect < 1.345);
		}
		flips += d.flip;
		if (d.rotate) {
			rot++;
			ASSERT(d.angle >= -45 && d.angle <= 45);
			angle += d.angle;
			angle2 += d.angle * d.angle;
		}
		if (d.color) {
			ASSERT(fabs(d.brightness) <= 32.0 / 255);
			ASSERT(d.saturation >= 0.5 && d.saturation <= 1.5);
			ASSERT(fabs(d.hue) <= 0.2);
			ASSERT(d.contrast >= 0.5 && d.contrast <= 1.5);
			br += d.brightness;
			sat += d.saturation;
			hue += d.hue;
			con += d.contrast;
		}
		c1 += d.color == 1;
		c2 += d.color == 2;
	}
	ASSERT(mean_ok(flips, DRAWS, 0.5, 0.25));
	ASSERT(mean_ok(rot, DRAWS, 1.0 / 3, 2.0 / 9));
	ASSERT(mean_ok(c1, DRAWS, 1.0 / 3, 2.0 / 9));
	ASSERT(mean_ok(c2, DRAWS, 1.0 / 3, 2.0 / 9));
	/* Uniform in [-45, 45]: mean 0, variance 90^2 / 12 = 675. */
	ASSERT(mean_ok(angle, rot, 0, 675));
	ASSERT(fabs(angle2 / rot - 675) < 675 * 0.05);
	double nc = c1 + c2, w = 32.0 / 255;
	ASSERT(mean_ok(br, nc, 0, 4 * w * w / 12));
	ASSERT(mean_ok(sat, nc, 1, 1.0 / 12));
	ASSERT(mean_ok(hue, nc, 0, 0.16 / 12));
	ASSERT(mean_ok(con, nc, 1, 1.0 / 12));
	/* Boxes near the whole area rarely fit a 4:3 image in an aspect of
	 * 0.75 to 1.33, but one in 100 attempts nearly always does. */
	ASSERT(whole < DRAWS / 100);
}

/* Where no constraint binds (area at most half of a square image), the
 * area fraction and the aspect are uniform, and the position too. */
static void test_draw_crop_distribution(struct tap *tap)
{
	struct mli_augment_params p;
	struct mli_augment_draw d;
	struct mli_rng r;
	int bins[9] = { 0 };
	double aspect = 0, pos = 0, npos = 0;

	mli_augment_defaults(&p);
	p.area_min = 0.05;
	p.area_max = 0.5;
	mli_rng_init(&r, 5, NULL, 0, 0);
	for (int i = 0; i < DRAWS; i++) {
		mli_augment_draw(&p, &r, 1000, 1000, &d);
		ASSERT(!d.whole);
		double frac = (double)d.w * d.h / 1e6;
		int b = (int)((frac - 0.05) / 0.05);
		ASSERT(frac > 0.0495 && frac < 0.5015);
		bins[b < 0 ? 0 : b > 8 ? 8 : b]++;
		aspect += (double)d.w / d.h;
		if (d.w < 1000) {
			pos += (double)d.x / (1000 - d.w);
			npos++;
		}
	}
	/* Nine bins of 0.05: each holds a ninth, within 5 sd. */
	for (int b = 0; b < 9; b++)
		ASSERT(fabs(bins[b] - DRAWS / 9.0) < 5 * sqrt(DRAWS * (1 / 9.0) * (8 / 9.0)));
	ASSERT(mean_ok(aspect, DRAWS, (0.75 + 1.33) / 2, 0.58 * 0.58 / 12));
	ASSERT(mean_ok(pos, npos, 0.5, 1.0 / 12));
}

/* The same stream gives the same choices and the same bytes. */
static void test_reproducible(struct tap *tap)
{
	struct mli_augment_params p;
	struct mli_augment_draw d1, d2;
	struct mli_rng r1, r2;
	uint8_t *src = coord_image(256, 300, 3), *o1 = malloc(224 * 224 * 3), *o2 = malloc(224 * 224 * 3);
	void *scratch = malloc(mli_augment_scratch_size(224, 3));
	int differ = 0;

	mli_augment_defaults(&p);
	for (int e = 0; e < 20; e++) {
		mli_rng_init(&r1, 9, "k", 1, (uint64_t)e);
		mli_rng_init(&r2, 9, "k", 1, (uint64_t)e);
		mli_augment_draw(&p, &r1, 256, 300, &d1);
		mli_augment_draw(&p, &r2, 256, 300, &d2);
		ASSERT_MEM_EQ(&d1, &d2, sizeof d1);
		ASSERT_EQ(mli_augment_apply(&d1, src, 256, 300, 3, o1, 224, scratch), 0);
		ASSERT_EQ(mli_augment_apply(&d2, src, 256, 300, 3, o2, 224, scratch), 0);
		ASSERT_MEM_EQ(o1, o2, 224 * 224 * 3);
		if (e) {
			mli_rng_init(&r2, 9, "k", 1, (uint64_t)e - 1);
			mli_augment_draw(&p, &r2, 256, 300, &d2);
			differ += memcmp(&d1, &d2, sizeof d1) != 0;
		}
	}
	ASSERT_EQ(differ, 19);
	free(src);
	free(o1);
	free(o2);
	free(scratch);
}

/* Crop at the output size (no resampling), flip and a quarter turn, each
 * checked pixel by pixel. */
static void test_geometry_exact(struct tap *tap)
{
	enum { S = 64, H = 100, W = 90 };
	uint8_t *src = coord_image(H, W, 3), *out = malloc(S * S * 3);
	void *scratch = malloc(mli_augment_scratch_size(S, 3));
	struct mli_augment_draw d = { .x = 11, .y = 23, .w = S, .h = S };

	ASSERT_EQ(mli_augment_apply(&d, src, H, W, 3, out, S, scratch), 0);
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			for (int k = 0; k < 3; k++)
				ASSERT_EQ(out[(y * S + x) * 3 + k], code(y + 23, x + 11, k));
	d.flip = 1;
	ASSERT_EQ(mli_augment_apply(&d, src, H, W, 3, out, S, scratch), 0);
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			ASSERT_EQ(out[(y * S + x) * 3 + 1], code(y + 23, S - 1 - x + 11, 1));
	/* 90 degrees counter-clockwise: output (i, j) is crop (j, S-1-i). */
	d.flip = 0;
	d.rotate = 1;
	d.angle = 90;
	ASSERT_EQ(mli_augment_apply(&d, src, H, W, 3, out, S, scratch), 0);
	for (int i = 0; i < S; i++)
		for (int j = 0; j < S; j++)
			ASSERT_EQ(out[(i * S + j) * 3 + 2], code(j + 23, S - 1 - i + 11, 2));
	/* 45 degrees: the corners are outside the source, so black; the
	 * centre stays. */
	d.angle = 45;
	ASSERT_EQ(mli_augment_apply(&d, src, H, W, 3, out, S, scratch), 0);
	ASSERT(out[0] == 0 && out[1] == 0 && out[2] == 0);
	ASSERT_EQ(out[((S - 1) * S + S - 1) * 3], 0);
	/* A box over the edge is refused. */
	d.x = W - S + 1;
	ASSERT_EQ(mli_augment_apply(&d, src, H, W, 3, out, S, scratch), MLI_EINVAL);
	free(src);
	free(out);
	free(scratch);
}

/* Colour operations on a plain image: neutral settings keep it, brightness
 * adds, saturation 0 gives gray, a third of a turn of hue takes red to
 * green, contrast 0.5 halves the distance to the mean. */
static void test_color(struct tap *tap)
{
	enum { S = 8 };
	uint8_t src[S * S * 3], out[S * S * 3];
	void *scratch = malloc(mli_augment_scratch_size(S, 3));
	struct mli_augment_draw d = { .w = S, .h = S, .color = 1, .saturation = 1, .contrast = 1 };

	for (int i = 0; i < S * S * 3; i++)
		src[i] = (uint8_t)(i * 37 % 251);
	for (int order = 1; order <= 2; order++) {
		d.color = order;
		d.brightness = 0;
		ASSERT_EQ(mli_augment_apply(&d, src, S, S, 3, out, S, scratch), 0);
		ASSERT_MEM_EQ(out, src, sizeof src);
		d.brightness = 20.0 / 255;
		mli_augment_apply(&d, src, S, S, 3, out, S, scratch);
		for (int i = 0; i < S * S * 3; i++)
			ASSERT(abs(out[i] - (src[i] + 20 > 255 ? 255 : src[i] + 20)) <= 1);
	}
	d.brightness = 0;
	d.saturation = 0;
	mli_augment_apply(&d, src, S, S, 3, out, S, scratch);
	for (int i = 0; i < S * S; i++) {
		int mx = src[3 * i] > src[3 * i + 1] ? src[3 * i] : src[3 * i + 1];
		mx = mx > src[3 * i + 2] ? mx : src[3 * i + 2];
		ASSERT(out[3 * i] == out[3 * i + 1] && out[3 * i + 1] == out[3 * i + 2]);
		ASSERT_EQ(out[3 * i], mx);   /* gray at the value V */
	}
	for (int i = 0; i < S * S; i++) {
		src[3 * i] = 200;
		src[3 * i + 1] = 0;
		src[3 * i + 2] = 0;
	}
	d.saturation = 1;
	d.hue = 1.0 / 3;
	mli_augment_apply(&d, src, S, S, 3, out, S, scratch);
	ASSERT(out[0] == 0 && out[1] == 200 && out[2] == 0);
	d.hue = 0;
	d.contrast = 0.5;
	for (int i = 0; i < S * S * 3; i++)
		src[i] = i < S * S * 3 / 2 ? 100 : 200;   /* mean 150 in every channel */
	mli_augment_apply(&d, src, S, S, 3, out, S, scratch);
	ASSERT(out[0] == 125 && out[S * S * 3 - 1] == 175);
	free(scratch);
}

/* The AVX2 colour kernels give the reference's bytes (on a CPU without
 * AVX2 both runs take the reference: the test then checks nothing more
 * than the rest do). Odd pixel counts exercise the tails, and ranges
 * wider than the defaults push values far outside [0, 1]. */
static void test_color_kernels_agree(struct tap *tap)
{
	enum { MAXN = 37 * 37 };
	static uint8_t img[MAXN * 3], a[MAXN * 3], b[MAXN * 3];
	static float f[MAXN * 3];
	struct mli_rng r;
	int differ = 0;

	mli_rng_init(&r, 11, NULL, 0, 0);
	for (int t = 0; t < 400; t++) {
		size_t side = 1 + mli_rng_below(&r, 37), n = side * side;
		int order = 1 + (int)mli_rng_below(&r, 2);
		float br = (float)mli_rng_range(&r, -0.5, 0.5), sat = (float)mli_rng_range(&r, 0, 3);
		float hue = (float)mli_rng_range(&r, -0.5, 0.5), con = (float)mli_rng_range(&r, 0, 3);
		for (size_t i = 0; i < n * 3; i++)
			img[i] = (uint8_t)(t % 4 == 0 ? (mli_rng_below(&r, 2) ? 255 : 0) : mli_rng_below(&r, 256));
		mli__color(img, f, n, order, br, sat, hue, con, a, 0);
		mli__color(img, f, n, order, br, sat, hue, con, b, 1);
		ASSERT_MEM_EQ(a, b, n * 3);
		differ += memcmp(a, img, n * 3) != 0;
	}
	ASSERT(differ > 390);
}

/* The AVX2 rotation gives the reference's bytes (MLI_KERNELS=ref picks
 * the reference) at any angle and size, edges and tails included. */
static void test_rotation_kernels_agree(struct tap *tap)
{
	enum { MAXS = 45 };
	uint8_t *src = coord_image(60, 70, 3), *a = malloc(MAXS * MAXS * 3), *b = malloc(MAXS * MAXS * 3);
	void *scratch = malloc(mli_augment_scratch_size(MAXS, 3));
	struct mli_rng r;
	int black = 0;

	mli_rng_init(&r, 4, NULL, 0, 0);
	for (int t = 0; t < 300; t++) {
		uint32_t size = 1 + (uint32_t)mli_rng_below(&r, MAXS);
		struct mli_augment_draw d = { .x = 3, .y = 5, .w = 50, .h = 40, .rotate = 1 };
		d.angle = mli_rng_range(&r, -180, 180);
		setenv("MLI_KERNELS", "ref", 1);
		ASSERT_EQ(mli_augment_apply(&d, src, 60, 70, 3, a, size, scratch), 0);
		unsetenv("MLI_KERNELS");
		ASSERT_EQ(mli_augment_apply(&d, src, 60, 70, 3, b, size, scratch), 0);
		ASSERT_MEM_EQ(a, b, (size_t)size * size * 3);
		black += size > 8 && a[0] == 0 && a[1] == 0 && a[2] == 0;
	}
	ASSERT(black > 100);
	free(src);
	free(a);
	free(b);
	free(scratch);
}

/* Tiny images and 1, 2 and 4 channels go through every mode (colour
 * distortion leaves images other than RGB alone). */
static void test_small_and_other_channels(struct tap *tap)
{
	struct mli_augment_params p;
	struct mli_augment_draw d;
	struct mli_rng r;
	uint8_t *out = malloc((size_t)10 * 40 * 40 * 4);
	void *scratch = malloc(mli_augment_scratch_size(40, 4));

	mli_augment_defaults(&p);
	p.rotate_prob = 1;
	p.color_prob = 1;
	p.flip_prob = 1;
	for (uint32_t c = 1; c <= 4; c++) {
		static const uint32_t sizes[][2] = { { 1, 1 }, { 1, 7 }, { 5, 2 }, { 50, 60 } };
		for (size_t k = 0; k < 4; k++) {
			uint32_t h = sizes[k][0], w = sizes[k][1], rh, rw;
			uint8_t *src = coord_image(h, w, c);
			mli_rng_init(&r, c, &k, sizeof k, 0);
			mli_augment_draw(&p, &r, h, w, &d);
			ASSERT(d.x + d.w <= w && d.y + d.h <= h);
			ASSERT_EQ(mli_augment_apply(&d, src, h, w, c, out, 40, scratch), 0);
			ASSERT_EQ(mli_augment_eval(src, h, w, c, 0.8, out, 40), 0);
			mli_augment_short_side(h, w, 40, &rh, &rw);
			uint8_t *big = malloc((size_t)rh * rw * c);
			ASSERT_EQ(mli_resize(src, h, w, (size_t)w * c, c, big, rh, rw), 0);
			ASSERT_EQ(mli_augment_ten_crop(big, rh, rw, c, out, 40), 0);
			free(big);
			free(src);
		}
	}
	/* A one-pixel image stays one colour at any size, without colour. */
	uint8_t px[3] = { 10, 200, 30 };
	d = (struct mli_augment_draw){ .w = 1, .h = 1, .flip = 1 };
	ASSERT_EQ(mli_augment_apply(&d, px, 1, 1, 3, out, 40, scratch), 0);
	for (int i = 0; i < 40 * 40; i++)
		ASSERT(out[3 * i] == 10 && out[3 * i + 1] == 200 && out[3 * i + 2] == 30);
	free(out);
	free(scratch);
}

static void test_eval_exact(struct tap *tap)
{
	uint32_t y, x, ch, cw;
	uint8_t *src = coord_image(280, 280, 3), *out = malloc(224 * 224 * 3);

	mli_augment_central(100, 200, 0.8, &y, &x, &ch, &cw);
	ASSERT(y == 10 && x == 20 && ch == 80 && cw == 160);
	mli_augment_central(257, 341, 0.8, &y, &x, &ch, &cw);
	ASSERT(y == 25 && x == 34 && ch == 207 && cw == 273);
	/* 80% of 280 is 224: the centre, pixel for pixel. */
	ASSERT_EQ(mli_augment_eval(src, 280, 280, 3, 0.8, out, 224), 0);
	for (int i = 0; i < 224; i++)
		for (int j = 0; j < 224; j++)
			ASSERT_EQ(out[(i * 224 + j) * 3], code(i + 28, j + 28, 0));
	ASSERT_EQ(mli_augment_eval(src, 280, 280, 3, 0, out, 224), MLI_EINVAL);
	free(src);
	free(out);
}

static void test_ten_crop_exact(struct tap *tap)
{
	enum { H = 256, W = 301, S = 224 };
	static const uint32_t ys[5] = { 0, 0, H - S, H - S, (H - S) / 2 };
	static const uint32_t xs[5] = { 0, W - S, 0, W - S, (W - S) / 2 };
	uint8_t *src = coord_image(H, W, 3), *out = malloc((size_t)10 * S * S * 3);
	uint32_t rh, rw;

	ASSERT_EQ(mli_augment_ten_crop(src, H, W, 3, out, S), 0);
	for (int v = 0; v < 10; v++) {
		const uint8_t *o = out + (size_t)v * S * S * 3;
		for (uint32_t y = 0; y < S; y++)
			for (uint32_t x = 0; x < S; x++) {
				uint32_t sx = v < 5 ? x : S - 1 - x;
				for (int k = 0; k < 3; k++)
					ASSERT_EQ(o[(y * S + x) * 3 + k], code(ys[v % 5] + y, xs[v % 5] + sx, k));
			}
	}
	ASSERT_EQ(mli_augment_ten_crop(src, H, W, 3, out, 257), MLI_EINVAL);
	mli_augment_short_side(2736, 3648, 256, &rh, &rw);
	ASSERT(rh == 256 && rw == 341);
	mli_augment_short_side(1067, 1600, 256, &rh, &rw);
	ASSERT(rh == 256 && rw == 384);
	mli_augment_short_side(300, 100, 256, &rh, &rw);
	ASSERT(rh == 768 && rw == 256);
	free(src);
	free(out);
}

int main(void)
{
	struct tap t = { 0 }, *tap = &t;

	RUN(test_draw_rates);
	RUN(test_draw_crop_distribution);
	RUN(test_reproducible);
	RUN(test_geometry_exact);
	RUN(test_color);
	RUN(test_color_kernels_agree);
	RUN(test_rotation_kernels_agree);
	RUN(test_small_and_other_channels);
	RUN(test_eval_exact);
	RUN(test_ten_crop_exact);
	return tap_done(tap);
}

/* augment.h: the training augmentation of the original release and the
 * evaluation crops, on 8-bit images [height, width, channels].
 *
 * Training (the original pre-training recipe; every number a parameter):
 *
 *  1. a distorted crop: up to `attempts` times, draw an area fraction
 *     uniformly from [area_min, area_max] of the image and an aspect ratio
 *     (width / height) uniformly from [aspect_min, aspect_max], and take
 *     the first box of that area and shape that fits, at a uniform
 *     position; if none fits, the whole image;
 *  2. an antialiased bilinear resize of the box to size x size
 *     (libcore/resize.h);
 *  3. a horizontal flip with probability flip_prob;
 *  4. with probability rotate_prob, a rotation about the centre by an
 *     angle drawn uniformly from [-rotate_max, rotate_max] degrees
 *     (counter-clockwise as seen for positive angles; bilinear, corners
 *     filled with black);
 *  5. with probability color_prob, colour distortion (three channels
 *     only), each of two orders equally likely: order 1 is brightness,
 *     saturation, hue, contrast; order 2 is saturation, brightness,
 *     contrast, hue (the two orderings of Inception's distort_color).
 *     Brightness adds a delta drawn from [-brightness, brightness] (in
 *     units of full scale); saturation multiplies HSV saturation by a
 *     factor from [saturation_min, saturation_max] (clipped to [0, 1]);
 *     hue turns HSV hue by a delta from [-hue, hue] of the colour circle;
 *     contrast moves each channel away from its mean over the image by a
 *     factor from [contrast_min, contrast_max]. The work is in floats in
 *     [0, 1]; the result is clipped to that range at the end and rounded
 *     to 8 bits.
 *
 * All the random choices of one image are drawn first, by
 * mli_augment_draw(), from one random stream (random.h), so that they can
 * be tested apart from the pixels and so that an image's result depends
 * only on its stream. */
#ifndef MLI_AUGMENT_H
#define MLI_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "random.h"

struct mli_augment_params {
	double area_min, area_max;       /* fraction of the image's area */
	double aspect_min, aspect_max;   /* width / height of the box */
	int attempts;                    /* boxes tried before the whole image */
	double flip_prob;
	double rotate_prob, rotate_max;  /* rotate_max in degrees */
	double color_prob;               /* either order, each half of this */
	double brightness;               /* full scale = 1 */
	double saturation_min, saturation_max;
	double hue;                      /* the colour circle = 1 */
	double contrast_min, contrast_max;
};

/* The original recipe: area [0.7, 1], aspect [0.75, 1.33], 100 attempts,
 * flip 1/2, rotation on 1/3 within 45 degrees, colour on 2/3 (1/3 in each
 * order) with brightness 32/255, saturation [0.5, 1.5], hue 0.2 and
 * contrast [0.5, 1.5]. */
void mli_augment_defaults(struct mli_augment_params *p);

/* The random choices for one image. */
struct mli_augment_draw {
	uint32_t x, y, w, h;  /* the crop box in the source */
	int whole;            /* no attempt fitted: the box is the whole image */
	int flip;
	int rotate;
	double angle;         /* degrees, counter-clockwise */
	int color;            /* 0: none; 1 or 2: the order */
	double brightness, saturation, hue, contrast;
};

/* Draws the choices for a source of src_h x src_w from rng. */
void mli_augment_draw(const struct mli_augment_params *p, struct mli_rng *rng, uint32_t src_h,
		      uint32_t src_w, struct mli_augment_draw *d);

/* Bytes of scratch mli_augment_apply() needs for this output. */
size_t mli_augment_scratch_size(uint32_t size, uint32_t channels);

/* Applies the choices d to src [sh, sw, c] (rows packed), writing dst
 * [size, size, c]. scratch holds mli_augment_scratch_size() bytes (any
 * alignment of at least 8). Returns 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_augment_apply(const struct mli_augment_draw *d, const uint8_t *src, uint32_t sh,
		      uint32_t sw, uint32_t c, uint8_t *dst, uint32_t size, void *scratch);

/* The central box of a fraction of each side (as TensorFlow's
 * central_crop): *y = (int)((h - h * fraction) / 2), *ch = h - 2 * *y, and
 * likewise across. */
void mli_augment_central(uint32_t h, uint32_t w, double fraction, uint32_t *y, uint32_t *x,
			 uint32_t *ch, uint32_t *cw);

/* The evaluation view: the central fraction of src [sh, sw, c], resized
 * to dst [size, size, c]. Returns 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_augment_eval(const uint8_t *src, uint32_t sh, uint32_t sw, uint32_t c, double fraction,
		     uint8_t *dst, uint32_t size);

/* The size of an image of h x w scaled so that its shorter side is
 * `short_side` (the longer side rounded to nearest, at least 1). */
void mli_augment_short_side(uint32_t h, uint32_t w, uint32_t short_side, uint32_t *rh,
			    uint32_t *rw);

#define MLI_TEN_CROP 10

/* The ten views of the original feature extractor, from an image already
 * scaled (src [sh, sw, c], both sides at least size): view 0 the top-left
 * size x size box, 1 top-right, 2 bottom-left, 3 bottom-right, 4 the
 * centre (offsets rounded down), and views 5-9 the same boxes mirrored
 * left to right. dst holds [10, size, size, c]. Returns 0 or MLI_EINVAL. */
int mli_augment_ten_crop(const uint8_t *src, uint32_t sh, uint32_t sw, uint32_t c, uint8_t *dst,
			 uint32_t size);

#endif

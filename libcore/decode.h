/* decode.h: one encoded image in, upright RGB pixels at the size asked out.
 *
 * The format is told by the bytes, not by any media type a record claims
 * (a PNG labelled image/jpeg decodes as the PNG it is). A JPEG is decoded
 * at the smallest DCT scale (1/8, 1/4, 1/2 or 1) whose result is still at
 * least the target in both dimensions, then resized with the antialiased
 * filter of resize.h to the exact target; then its EXIF orientation is
 * applied. Sizes are computed on the upright image. */
#ifndef MLI_DECODE_H
#define MLI_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

struct mli_decode_options {
	uint32_t short_side;   /* scale so the shorter side is this (0: no) */
	uint32_t max_side;     /* ... and the longer side at most this (0: no) */
	uint32_t width, height;/* exact size, aspect not kept (0, 0: no) */
	int upscale;           /* short_side/max_side may enlarge */
	uint64_t max_pixels;   /* refuse larger images before allocating (0: no limit) */
	int max_scans;         /* refuse JPEGs with more scans (0: no limit) */
	int lenient;           /* let libjpeg's warnings pass */
	int fast;              /* libjpeg's fast IDCT and plain upsampling (jpeg.h) */
};

/* A decoded image: pixels [height, width, 3], RGB, owned by the caller. */
struct mli_image {
	uint8_t *pixels;
	uint32_t width, height, channels;
};

/* Formats told by their first bytes. */
enum mli_image_format {
	MLI_FORMAT_UNKNOWN = 0,
	MLI_FORMAT_JPEG,
	MLI_FORMAT_PNG,
	MLI_FORMAT_GIF,
	MLI_FORMAT_WEBP,
	MLI_FORMAT_BMP,
	MLI_FORMAT_TIFF,
	MLI_FORMAT_HTML
};

/* The format of these bytes. */
int mli_image_sniff(const uint8_t *data, size_t len);

/* The media type of a format ("image/jpeg"), or "application/octet-stream". */
const char *mli_image_media(int format);

/* The output size for an upright image of w x h under o. */
void mli_decode_target(const struct mli_decode_options *o, uint32_t w, uint32_t h,
		       uint32_t *tw, uint32_t *th);

/* Decodes data into img (img->pixels freshly allocated). Returns 0,
 * MLI_ENOMEM, or MLI_EINVAL with f saying why the bytes are not usable. */
int mli_decode(const uint8_t *data, size_t len, const struct mli_decode_options *o,
	       struct mli_image *img, struct mli_fault *f);

/* What one thread keeps from an image to the next: the resize plans of
 * the last few sizes, reused when a later image needs one of them
 * (photographs of a dataset often share their size). The results are
 * the same bytes as mli_decode's. */
struct mli_decoder;

/* Returns 0 with *dp set, or MLI_ENOMEM. */
int mli_decoder_new(struct mli_decoder **dp);
void mli_decoder_free(struct mli_decoder *d);

/* mli_decode keeping state in d (one thread's; NULL: none). */
int mli_decode_with(struct mli_decoder *d, const uint8_t *data, size_t len,
		    const struct mli_decode_options *o, struct mli_image *img, struct mli_fault *f);

#endif

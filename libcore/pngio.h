/* pngio.h: PNG decoding through libpng's simplified API.
 *
 * (Named pngio, not png, so as not to shadow libpng's <png.h>.) Every PNG
 * colour type and depth comes out as 8-bit sRGB; transparency is
 * composited onto white, so that a logo on a transparent background looks
 * as it does in a browser. */
#ifndef MLI_PNGIO_H
#define MLI_PNGIO_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

/* Whether the bytes start with the PNG signature. */
int mli_png_sniff(const uint8_t *data, size_t len);

/* Decodes the PNG in data into a new buffer *pixels [height, width, 3]
 * (the caller frees it), refusing images of more than max_pixels pixels
 * (0: no limit) before allocating them. Returns 0, MLI_ENOMEM, or
 * MLI_EINVAL with f filled. */
int mli_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, uint8_t **pixels,
		   uint32_t *width, uint32_t *height, struct mli_fault *f);

/* Encodes pixels [height, width, channels] (channels 1: 8-bit gray, or 3:
 * RGB, rows packed) as a PNG into a new buffer *png of *png_len bytes (the
 * caller frees it). Returns 0, MLI_ENOMEM, or MLI_EINVAL for a size or
 * channel count libpng cannot write. */
int mli_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
		   uint8_t **png, size_t *png_len);

#endif

/* jpeg.h: JPEG decoding and encoding through libjpeg-turbo.
 *
 * libjpeg reports errors by calling back, and the callbacks here turn
 * them into return values with setjmp/longjmp: nothing in libjpeg prints
 * or exits. Warnings (premature end, corrupt entropy data) are errors
 * unless the caller is lenient. Every decode goes in two steps: the header
 * (size, orientation; nothing large is allocated yet, so a caller can
 * refuse a decompression bomb), then the pixels at a DCT scale of M/8,
 * converted to RGB from whatever colour space the file holds (gray,
 * YCbCr, RGB, CMYK, YCCK, Adobe's inverted CMYK included). */
#ifndef MLI_JPEG_H
#define MLI_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

struct mli_jpeg;

struct mli_jpeg_info {
	uint32_t width, height;   /* as stored (before orientation) */
	int components;           /* 1, 3 or 4 */
	int orientation;          /* EXIF, 1-8; 1 when absent */
	int progressive;
};

/* Reads the header of the JPEG in data (which must stay valid until
 * mli_jpeg_close). max_scans caps the scans a decode may read (0: no cap);
 * lenient lets libjpeg's warnings pass. Returns 0 with *jp set, MLI_ENOMEM,
 * or MLI_EINVAL with f filled when the bytes are not a usable JPEG. */
int mli_jpeg_open(struct mli_jpeg **jp, const uint8_t *data, size_t len, int max_scans,
		  int lenient, struct mli_jpeg_info *info, struct mli_fault *f);

/* The size a decode at scale m/8 (m = 1-16) gives. */
void mli_jpeg_scaled_size(const struct mli_jpeg *j, int m, uint32_t *width, uint32_t *height);

/* Starts the decode at scale m/8 (m = 1-16; sizes as
 * mli_jpeg_scaled_size, returned in *width, *height). fast trades a
 * little accuracy for speed: libjpeg's fast integer IDCT (JDCT_IFAST)
 * and chroma upsampled by replication (no "fancy" upsampling). Returns
 * 0, MLI_ENOMEM, or MLI_EINVAL with f filled. Once only per open. */
int mli_jpeg_start(struct mli_jpeg *j, int m, int fast, uint32_t *width, uint32_t *height,
		   struct mli_fault *f);

/* Decodes the next rows, at most n, into rows[0 ..] (each [width, 3],
 * RGB), top to bottom, and sets *got to how many (at least one while
 * rows remain). Returns 0, MLI_ENOMEM, or MLI_EINVAL with f filled;
 * after a failure the decode cannot go on. */
int mli_jpeg_read(struct mli_jpeg *j, uint8_t **rows, uint32_t n, uint32_t *got, struct mli_fault *f);

/* Ends a decode whose every row was read (libjpeg reads what follows
 * the last scan: a warning there fails too unless lenient). Returns 0,
 * or MLI_EINVAL with f filled. */
int mli_jpeg_finish(struct mli_jpeg *j, struct mli_fault *f);

/* The whole decode in one call, into a new buffer *pixels [height,
 * width, 3] (RGB; the caller frees it): start, read, finish. */
int mli_jpeg_decode(struct mli_jpeg *j, int m, int fast, uint8_t **pixels, uint32_t *width,
		    uint32_t *height, struct mli_fault *f);

void mli_jpeg_close(struct mli_jpeg *j);

/* Encodes rgb [height, width, 3] as a baseline JPEG of this quality
 * (1-100, 4:2:0 chroma) into a new buffer *out of *len bytes (the caller
 * frees it). Returns 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_jpeg_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
		    uint8_t **out, size_t *len);

#endif

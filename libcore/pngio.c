/* pngio.c: libpng's png_image API with our limits and fault reasons. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pngio.h"

int mli_png_sniff(const uint8_t *data, size_t len)
{
	return len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
}

/* libpng's messages for data that stops short. */
static int is_truncation(const char *msg)
{
	return strstr(msg, "end of data") || strstr(msg, "Not enough image data")
	       || strstr(msg, "Read Error") || strstr(msg, "beyond end");
}

int mli_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels, uint8_t **pixels,
		   uint32_t *width, uint32_t *height, struct mli_fault *f)
{
	png_image img;
	png_color background = { 255, 255, 255 };
	uint8_t *buf = NULL;

	*pixels = NULL;
	if (len == 0) {
		mli_fault_set(f, MLI_FAULT_EMPTY, "no bytes");
		return MLI_EINVAL;
	}
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		goto bad;
	if (max_pixels && (uint64_t)img.width * img.height > max_pixels) {
		mli_fault_set(f, MLI_FAULT_BOMB, "%ux%u is more than %llu pixels", img.width,
			      img.height, (unsigned long long)max_pixels);
		png_image_free(&img);
		return MLI_EINVAL;
	}
	img.format = PNG_FORMAT_RGB;
	/* Our own size arithmetic: PNG_IMAGE_SIZE is 32-bit. */
	if (!(buf = malloc((size_t)img.width * img.height * 3))) {
		png_image_free(&img);
		mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
		return MLI_ENOMEM;
	}
	if (!png_image_finish_read(&img, &background, buf, 0, NULL))
		goto bad;
	*pixels = buf;
	*width = img.width;
	*height = img.height;
	return 0;
bad:
	free(buf);
	mli_fault_set(f, is_truncation(img.message) ? MLI_FAULT_TRUNCATED : MLI_FAULT_CORRUPT,
		      "%s", img.message);
	png_image_free(&img);
	return MLI_EINVAL;
}

int mli_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
		   uint8_t **png, size_t *png_len)
{
	png_image img;
	png_alloc_size_t len = 0;
	uint8_t *buf;

	*png = NULL;
	*png_len = 0;
	if ((channels != 1 && channels != 3) || !width || !height ||
	    width > PNG_UINT_31_MAX / channels || height > PNG_UINT_31_MAX)
		return MLI_EINVAL;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = width;
	img.height = height;
	img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
	/* A first call with no buffer asks libpng for the size it needs. */
	if (!png_image_write_get_memory_size(img, len, 0, pixels, 0, NULL)) {
		png_image_free(&img);
		return MLI_EINVAL;
	}
	if (!(buf = malloc(len)))
		return MLI_ENOMEM;
	if (!png_image_write_to_memory(&img, buf, &len, 0, pixels, 0, NULL)) {
		free(buf);
		png_image_free(&img);
		return MLI_EINVAL;
	}
	*png = buf;
	*png_len = len;
	return 0;
}

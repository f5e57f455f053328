/* exif.c: reading the orientation tag of an EXIF APP1 segment. */
#include <string.h>

#include "exif.h"

static uint32_t get16(const uint8_t *p, int big)
{
	return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big)
{
	return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		   : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int mli_exif_orientation(const uint8_t *app1, size_t len)
{
	const uint8_t *tiff;
	size_t n;
	uint32_t ifd, count;
	int big;

	if (len < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0)
		return 1;
	tiff = app1 + 6;
	n = len - 6;
	if (tiff[0] == 'M' && tiff[1] == 'M')
		big = 1;
	else if (tiff[0] == 'I' && tiff[1] == 'I')
		big = 0;
	else
		return 1;
	if (get16(tiff + 2, big) != 42)
		return 1;
	ifd = get32(tiff + 4, big);
	if (ifd > n || n - ifd < 2)
		return 1;
	count = get16(tiff + ifd, big);
	/* Each entry is 12 bytes: tag, type, count, value (or offset). */
	if ((n - ifd - 2) / 12 < count)
		return 1;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = tiff + ifd + 2 + 12 * (size_t)i;
		if (get16(e, big) != 0x0112)
			continue;
		/* SHORT (type 3), count 1: the value sits in the first two
		 * bytes of the value field. */
		if (get16(e + 2, big) != 3 || get32(e + 4, big) != 1)
			return 1;
		uint32_t v = get16(e + 8, big);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

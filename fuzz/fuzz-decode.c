/* fuzz-decode.c: the decode path (sniffing, libjpeg-turbo behind setjmp,
 * EXIF parsing, libpng, resize and orientation) on arbitrary bytes.
 *
 * The input is the encoded file itself, so that real images seed the
 * corpus as they are; the options vary with the input's length, so that
 * the fuzzer reaches every sizing path, the lenient mode and the scan
 * cap. Any outcome but a crash, a leak or undefined behaviour is fine. */
#include <stdint.h>
#include <stdlib.h>

#include "decode.h"
#include "exif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t sides[6] = { 0, 1, 7, 32, 100, 300 };
	struct mli_decode_options o = {
		.max_pixels = 4u << 20,
		.max_scans = size & 1 ? 20 : 0,
		.lenient = (size >> 1) & 1,
	};
	struct mli_image img;
	struct mli_fault f;

	switch ((size >> 2) % 4) {
	case 0: o.short_side = sides[(size >> 4) % 6]; break;
	case 1: o.max_side = sides[(size >> 4) % 6]; o.upscale = 1; break;
	case 2: o.width = 1 + (uint32_t)(size % 61); o.height = 1 + (uint32_t)(size % 37); break;
	default: break;
	}
	if (mli_decode(data, size, &o, &img, &f) == 0) {
		/* Touch every byte so that a short buffer shows under ASan. */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < (size_t)img.width * img.height * img.channels; i++)
			sum += img.pixels[i];
		free(img.pixels);
	}
	(void)mli_exif_orientation(data, size);
	return 0;
}

/* orient.c: EXIF orientation as a walk over the source with two strides. */
#include <stddef.h>
#include <string.h>

#include "orient.h"

int mli_orient_swaps(int o)
{
	return o >= 5 && o <= 8;
}

void mli_orient(const uint8_t *src, uint32_t h, uint32_t w, uint32_t c, int o, uint8_t *dst)
{
	/* D[r][x] = S at start + r * row_step + x * col_step (in pixels). */
	ptrdiff_t W = (ptrdiff_t)w, H = (ptrdiff_t)h, start, row_step, col_step;
	uint32_t dh = mli_orient_swaps(o) ? w : h, dw = mli_orient_swaps(o) ? h : w;

	switch (o) {
	case 2: start = W - 1; row_step = W; col_step = -1; break;
	case 3: start = H * W - 1; row_step = -W; col_step = -1; break;
	case 4: start = (H - 1) * W; row_step = -W; col_step = 1; break;
	case 5: start = 0; row_step = 1; col_step = W; break;
	case 6: start = (H - 1) * W; row_step = 1; col_step = -W; break;
	case 7: start = H * W - 1; row_step = -1; col_step = -W; break;
	case 8: start = W - 1; row_step = -1; col_step = W; break;
	default:
		memcpy(dst, src, (size_t)h * w * c);
		return;
	}
	for (uint32_t r = 0; r < dh; r++) {
		const uint8_t *s = src + (start + (ptrdiff_t)r * row_step) * (ptrdiff_t)c;
		uint8_t *d = dst + (size_t)r * dw * c;
		ptrdiff_t step = col_step * (ptrdiff_t)c;
		if (c == 3) {
			for (uint32_t x = 0; x < dw; x++, s += step, d += 3) {
				d[0] = s[0];
				d[1] = s[1];
				d[2] = s[2];
			}
		} else {
			for (uint32_t x = 0; x < dw; x++, s += step, d += c)
				memcpy(d, s, c);
		}
	}
}

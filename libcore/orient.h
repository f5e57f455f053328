/* orient.h: turning stored pixels upright by an EXIF orientation.
 *
 * Orientation o (1-8, as EXIF tag 0x0112) describes the stored image S
 * (h rows, w columns); the upright image D is:
 *   1 D = S                   5 D = transpose(S)
 *   2 D = mirror(S)           6 D = S turned 90 degrees clockwise
 *   3 D = S turned 180        7 D = transverse(S)
 *   4 D = flip(S)             8 D = S turned 90 degrees anticlockwise
 * For 5-8 D has w rows and h columns. */
#ifndef MLI_ORIENT_H
#define MLI_ORIENT_H

#include <stdint.h>

/* Whether orientation o swaps width and height (5-8). */
int mli_orient_swaps(int o);

/* Writes the upright image of src into dst.
 * src: [h, w, c] uint8, rows packed; dst: [h, w, c] for o 1-4, [w, h, c]
 * for o 5-8, not overlapping src. An o outside 1-8 is taken as 1. */
void mli_orient(const uint8_t *src, uint32_t h, uint32_t w, uint32_t c, int o, uint8_t *dst);

#endif

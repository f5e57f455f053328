/* exif.h: the one EXIF fact a decoder needs, the orientation.
 *
 * EXIF (CIPA DC-008) stores a TIFF structure in a JPEG APP1 segment after
 * the six bytes "Exif\0\0". Tag 0x0112 of IFD0 says how the stored pixels
 * must be turned to be seen upright. The parser trusts no offset or count
 * in the segment: everything is checked against the segment's length. */
#ifndef MLI_EXIF_H
#define MLI_EXIF_H

#include <stddef.h>
#include <stdint.h>

/* The orientation (1-8) in an APP1 segment's payload (the bytes after the
 * marker length, starting with "Exif\0\0"), or 1 (upright) when the
 * segment is not EXIF, holds no orientation or holds an invalid one. */
int mli_exif_orientation(const uint8_t *app1, size_t len);

#endif

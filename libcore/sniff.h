/* sniff.h: what a downloaded body is, from its bytes alone.
 *
 * Servers label HTML error pages, placeholder PNGs and truncated files as
 * image/jpeg; only the bytes tell. mli_sniff() recognises image formats by
 * their magic bytes and the markup a server sends instead, and
 * mli_sniff_complete() checks that an image's file does not end early
 * (the end marker of JPEG, PNG and GIF), which catches bodies cut short
 * by a server that sent no Content-Length. */
#ifndef MLI_SNIFF_H
#define MLI_SNIFF_H

#include <stddef.h>
#include <stdint.h>

enum mli_sniff_kind {
	MLI_SNIFF_EMPTY = 0,   /* no bytes */
	MLI_SNIFF_UNKNOWN,     /* neither an image format nor markup we know */
	MLI_SNIFF_MARKUP,      /* HTML, XML or JSON: an error page */
	MLI_SNIFF_IMAGE        /* an image format; see media */
};

struct mli_sniff {
	enum mli_sniff_kind kind;
	const char *media;  /* a static media type ("image/jpeg", "text/html"), or NULL */
};

/* Classifies n bytes at p by their first bytes: JPEG, PNG, GIF, WebP,
 * BMP, TIFF, AVIF/HEIC (ISO-BMFF "ftyp" brands) as images; HTML, XML and
 * JSON (after leading white space and a UTF-8 byte-order mark) as markup. */
void mli_sniff(const uint8_t *p, size_t n, struct mli_sniff *s);

/* Whether an image of this media type whose file is n bytes at p ends as
 * a whole file of its format must: JPEG with an EOI marker (FF D9) in its
 * last 4 KiB, PNG with its IEND chunk, GIF with its trailer byte (0x3B).
 * Other formats are taken as complete. 1 or 0. */
int mli_sniff_complete(const char *media, const uint8_t *p, size_t n);

#endif

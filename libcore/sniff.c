/* sniff.c: magic-byte recognition (sniff.h). */
#include <string.h>
#include <strings.h>

#include "sniff.h"

static int starts(const uint8_t *p, size_t n, const char *magic, size_t m)
{
	return n >= m && memcmp(p, magic, m) == 0;
}

/* Whether the text at p starts with word, ignoring ASCII case. */
static int starts_nocase(const uint8_t *p, size_t n, const char *word)
{
	size_t m = strlen(word);

	return n >= m && strncasecmp((const char *)p, word, m) == 0;
}

void mli_sniff(const uint8_t *p, size_t n, struct mli_sniff *s)
{
	s->kind = MLI_SNIFF_IMAGE;
	s->media = NULL;
	if (n == 0) {
		s->kind = MLI_SNIFF_EMPTY;
		return;
	}
	if (starts(p, n, "\xff\xd8\xff", 3))
		s->media = "image/jpeg";
	else if (starts(p, n, "\x89PNG\r\n\x1a\n", 8))
		s->media = "image/png";
	else if (starts(p, n, "GIF87a", 6) || starts(p, n, "GIF89a", 6))
		s->media = "image/gif";
	else if (n >= 12 && starts(p, n, "RIFF", 4) && memcmp(p + 8, "WEBP", 4) == 0)
		s->media = "image/webp";
	else if (n >= 26 && starts(p, n, "BM", 2) && p[14] >= 12 && p[15] == 0 && p[16] == 0 && p[17] == 0)
		s->media = "image/bmp";
	else if (starts(p, n, "II*\0", 4) || starts(p, n, "MM\0*", 4))
		s->media = "image/tiff";
	else if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0
		 && (memcmp(p + 8, "avif", 4) == 0 || memcmp(p + 8, "avis", 4) == 0))
		s->media = "image/avif";
	else if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0
		 && (memcmp(p + 8, "heic", 4) == 0 || memcmp(p + 8, "heix", 4) == 0
		     || memcmp(p + 8, "mif1", 4) == 0))
		s->media = "image/heic";
	if (s->media)
		return;

	/* Markup: what servers send in place of an image. */
	if (starts(p, n, "\xef\xbb\xbf", 3)) {
		p += 3;
		n -= 3;
	}
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	s->kind = MLI_SNIFF_MARKUP;
	if (starts_nocase(p, n, "<!doctype html") || starts_nocase(p, n, "<html")
	    || starts_nocase(p, n, "<head") || starts_nocase(p, n, "<body")
	    || starts_nocase(p, n, "<!--") || starts_nocase(p, n, "<title")) {
		s->media = "text/html";
		return;
	}
	if (starts_nocase(p, n, "<?xml") || starts_nocase(p, n, "<svg")) {
		s->media = "text/xml";
		return;
	}
	if (n > 0 && (*p == '{' || *p == '[')) {
		s->media = "application/json";
		return;
	}
	s->kind = MLI_SNIFF_UNKNOWN;
}

int mli_sniff_complete(const char *media, const uint8_t *p, size_t n)
{
	if (!media)
		return 0;
	if (strcmp(media, "image/jpeg") == 0) {
		/* Trailing bytes after EOI are common (camera padding); a cut
		 * body never has the marker near its end, because entropy-coded
		 * data stuffs every FF with 00. */
		size_t from = n > 4096 ? n - 4096 : 0;
		for (size_t i = n; i >= from + 2; i--)
			if (p[i - 2] == 0xff && p[i - 1] == 0xd9)
				return 1;
		return 0;
	}
	if (strcmp(media, "image/png") == 0) {
		size_t from = n > 64 ? n - 64 : 0;
		for (size_t i = from; i + 4 <= n; i++)
			if (memcmp(p + i, "IEND", 4) == 0)
				return 1;
		return 0;
	}
	if (strcmp(media, "image/gif") == 0) {
		size_t from = n > 16 ? n - 16 : 0;
		for (size_t i = from; i < n; i++)
			if (p[i] == 0x3b)
				return 1;
		return 0;
	}
	return 1;
}

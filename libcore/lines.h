/* lines.h: reading text line by line from a file descriptor, for the
 * programs that take lists (annotation lists, class maps).
 *
 * The caller owns the buffer and may put bytes it has already read (to
 * guess an input's format) at its start: set end to their count. */
#ifndef MLI_LINES_H
#define MLI_LINES_H

#include <stddef.h>

/* The longest line accepted. */
#define MLI_LINE_MAX ((size_t)16 << 20)

struct mli_lines {
	int fd;
	char *buf;               /* malloc'd, cap bytes; grows by doubling */
	size_t cap, start, end;  /* [start, end) not yet returned */
	int eof;
	/* When set, called before a read that would wait for input (as
	 * mli_reader_on_wait() in reader.h): a filter writes out what it
	 * holds meanwhile. */
	void (*on_wait)(void *ctx);
	void *on_wait_ctx;
};

/* The next line, without its '\n', in *line and *len (valid until the
 * next call): 1, 0 at the end of input, or MLI_ESYS with errno set (EFBIG
 * for a line over MLI_LINE_MAX, ENOMEM when the buffer cannot grow). A
 * last line without '\n' is returned too. */
int mli_lines_next(struct mli_lines *l, char **line, size_t *len);

#endif

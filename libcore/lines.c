/* lines.c: a line reader over read(2). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "lines.h"

int mli_lines_next(struct mli_lines *l, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		ssize_t got;

		if (nl || (l->eof && l->end > l->start)) {
			size_t n = (size_t)((nl ? nl : l->buf + l->end) - (l->buf + l->start));
			*line = l->buf + l->start;
			*len = n;
			l->start += n + (nl ? 1 : 0);
			return 1;
		}
		if (l->eof)
			return 0;
		if (l->start > 0) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->start = 0;
		}
		if (l->end == l->cap) {
			char *b;
			if (l->cap >= MLI_LINE_MAX) {
				errno = EFBIG;
				return MLI_ESYS;
			}
			if (!(b = realloc(l->buf, 2 * l->cap))) {
				errno = ENOMEM;
				return MLI_ESYS;
			}
			l->buf = b;
			l->cap *= 2;
		}
		if (l->on_wait) {
			struct pollfd p = { l->fd, POLLIN, 0 };
			if (poll(&p, 1, 0) == 0)
				l->on_wait(l->on_wait_ctx);
		}
		got = read(l->fd, l->buf + l->end, l->cap - l->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return MLI_ESYS;
		if (got == 0)
			l->eof = 1;
		l->end += (size_t)got;
	}
}

/* fuzz-lines.c: the line reader of libcore/lines.c (mli-import's and
 * mli-stats' lists, class maps) on arbitrary bytes.
 *
 * The input's first byte picks the reader's starting buffer size (1 to
 * 64 bytes, so that growth happens often) and how many of the input's
 * bytes are handed over as already read (the format-guessing case); the
 * rest is fed through a pipe in small writes from a second thread, so
 * that reads return short. The lines returned, joined again with '\n',
 * must give back the input exactly (less one final '\n'), and no line
 * may hold a '\n'. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	int fd;
	const uint8_t *p;
	size_t n, chunk;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;

	for (size_t off = 0; off < f->n; off += f->chunk) {
		size_t k = f->n - off < f->chunk ? f->n - off : f->chunk;
		if (mli_write_full(f->fd, f->p + off, k) < 0)
			break;
	}
	close(f->fd);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mli_lines l = { 0 };
	struct feed f;
	pthread_t th;
	uint8_t *joined;
	size_t cap, pre, got = 0, len;
	char *line;
	int fds[2], rc;

	if (size == 0)
		return 0;
	cap = 1 + (data[0] & 63);
	f.chunk = 1 + (data[0] >> 6) * 5;
	data++;
	size--;
	pre = size < cap ? size : cap;
	pre = pre / 2;
	if (pipe(fds) < 0 || !(l.buf = malloc(cap)) || !(joined = malloc(size + 1)))
		abort();
	l.fd = fds[0];
	l.cap = cap;
	memcpy(l.buf, data, pre);
	l.end = pre;
	f.fd = fds[1];
	f.p = data + pre;
	f.n = size - pre;
	if (pthread_create(&th, NULL, feeder, &f) != 0)
		abort();
	while ((rc = mli_lines_next(&l, &line, &len)) == 1) {
		if (memchr(line, '\n', len) || got + len + 1 > size + 1)
			abort();
		memcpy(joined + got, line, len);
		got += len;
		joined[got++] = '\n';
	}
	if (rc != 0)
		abort();
	pthread_join(th, NULL);
	close(fds[0]);
	/* The last line's '\n' was added back whether it was there or not. */
	if (got && (size == 0 || data[size - 1] != '\n'))
		got--;
	if (got != size || memcmp(joined, data, size) != 0)
		abort();
	free(joined);
	free(l.buf);
	return 0;
}

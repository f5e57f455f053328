/* tfrecord.c: TFRecord framing and its masked CRC32C (see tfrecord.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "error.h"
#include "frame.h"
#include "io.h"
#include "tfrecord.h"

/* The reflected Castagnoli polynomial. */
#define CRC32C_POLY 0x82f63b78u
#define TFRECORD_MASK_DELTA 0xa282ead8u
#define TFRECORD_LIMIT_DEFAULT ((uint64_t)256 << 20)

/* Slicing-by-8 tables, built once on first use. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t mli_crc32c(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	pthread_once(&crc_table_once, crc_table_build);
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ mli_load32(p), hi = mli_load32(p + 4);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

uint32_t mli_tfrecord_crc(const void *data, size_t n)
{
	uint32_t c = mli_crc32c(0, data, n);
	return ((c >> 15) | (c << 17)) + TFRECORD_MASK_DELTA;
}

int mli_tfrecord_header_parse(const uint8_t *in, uint64_t limit, uint64_t *len)
{
	if (mli_tfrecord_crc(in, 8) != mli_load32(in + 8))
		return MLI_EHEADER;
	*len = mli_load64(in);
	if (*len > (limit ? limit : TFRECORD_LIMIT_DEFAULT))
		return MLI_ELIMIT;
	return 0;
}

int mli_tfrecord_footer_check(const uint8_t *data, size_t len, const uint8_t *footer)
{
	return mli_tfrecord_crc(data, len) == mli_load32(footer) ? 0 : MLI_EPAYLOAD;
}

void mli_tfrecord_frame(const uint8_t *data, size_t len, uint8_t header[12], uint8_t footer[4])
{
	mli_store64(header, (uint64_t)len);
	mli_store32(header + 8, mli_tfrecord_crc(header, 8));
	mli_store32(footer, mli_tfrecord_crc(data, len));
}

struct mli_tfrecord_reader {
	int fd;
	uint64_t limit;
	uint8_t pre[MLI_TFRECORD_HEADER_SIZE];
	size_t npre, pre_used;
	uint8_t *buf;
	size_t cap;
	uint64_t offset;     /* of the current record */
	uint64_t consumed;
	int error;
	char message[160];
	void (*on_wait)(void *ctx);  /* called before a read that would block */
	void *on_wait_ctx;
};

struct mli_tfrecord_reader *mli_tfrecord_reader_open(int fd, uint64_t limit,
						     const uint8_t *pre, size_t npre)
{
	struct mli_tfrecord_reader *r = calloc(1, sizeof *r);

	if (!r || npre > sizeof r->pre) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->limit = limit ? limit : TFRECORD_LIMIT_DEFAULT;
	if (npre)
		memcpy(r->pre, pre, npre);
	r->npre = npre;
	return r;
}

void mli_tfrecord_reader_free(struct mli_tfrecord_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* Reads len bytes, first from what the caller read ahead. Returns the
 * count (short only at end of input) or MLI_ESYS. */
static ssize_t read_input(struct mli_tfrecord_reader *r, uint8_t *out, size_t len)
{
	size_t from_pre = r->npre - r->pre_used;
	ssize_t n;

	if (from_pre > len)
		from_pre = len;
	memcpy(out, r->pre + r->pre_used, from_pre);
	r->pre_used += from_pre;
	if (from_pre == len)
		return (ssize_t)len;
	if (r->on_wait) {
		struct pollfd p = { r->fd, POLLIN, 0 };
		if (poll(&p, 1, 0) == 0)
			r->on_wait(r->on_wait_ctx);
	}
	n = mli_read_full(r->fd, out + from_pre, len - from_pre);
	if (n < 0)
		return n;
	return (ssize_t)from_pre + n;
}

static int fail(struct mli_tfrecord_reader *r, int rc, const char *what)
{
	r->error = rc;
	snprintf(r->message, sizeof r->message, "offset %llu: %s",
		 (unsigned long long)r->offset, what);
	return rc;
}

int mli_tfrecord_next(struct mli_tfrecord_reader *r, const uint8_t **data, size_t *len)
{
	uint8_t header[MLI_TFRECORD_HEADER_SIZE];
	uint64_t n;
	ssize_t got;
	int rc;

	if (r->error)
		return r->error;
	r->offset = r->consumed;
	if ((got = read_input(r, header, sizeof header)) < 0)
		return fail(r, MLI_ESYS, strerror(errno));
	if (got == 0)
		return 0;
	if ((size_t)got < sizeof header)
		return fail(r, MLI_ETRUNC, "input ends inside a record header");
	if ((rc = mli_tfrecord_header_parse(header, r->limit, &n)) < 0)
		return fail(r, rc, rc == MLI_EHEADER ? "length CRC mismatch (not a TFRecord, or damaged)"
						     : "record longer than the limit");
	if (n + MLI_TFRECORD_FOOTER_SIZE > r->cap) {
		size_t cap = (size_t)n + MLI_TFRECORD_FOOTER_SIZE;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return fail(r, MLI_ENOMEM, "out of memory");
		r->buf = b;
		r->cap = cap;
	}
	if ((got = read_input(r, r->buf, (size_t)n + MLI_TFRECORD_FOOTER_SIZE)) < 0)
		return fail(r, MLI_ESYS, strerror(errno));
	if ((size_t)got < n + MLI_TFRECORD_FOOTER_SIZE)
		return fail(r, MLI_ETRUNC, "input ends inside a record");
	if (mli_tfrecord_footer_check(r->buf, (size_t)n, r->buf + n) < 0)
		return fail(r, MLI_EPAYLOAD, "data CRC mismatch");
	r->consumed += MLI_TFRECORD_HEADER_SIZE + n + MLI_TFRECORD_FOOTER_SIZE;
	*data = r->buf;
	*len = (size_t)n;
	return 1;
}

uint64_t mli_tfrecord_offset(const struct mli_tfrecord_reader *r)
{
	return r->offset;
}

const char *mli_tfrecord_message(const struct mli_tfrecord_reader *r)
{
	return r->message;
}

uint64_t mli_tfrecord_consumed(const struct mli_tfrecord_reader *r)
{
	return r->consumed;
}

int mli_tfrecord_write(int fd, const void *data, size_t len)
{
	uint8_t header[MLI_TFRECORD_HEADER_SIZE], footer[MLI_TFRECORD_FOOTER_SIZE];
	struct iovec iov[3];

	mli_tfrecord_frame(data, len, header, footer);
	iov[0] = (struct iovec){ header, sizeof header };
	iov[1] = (struct iovec){ (void *)data, len };
	iov[2] = (struct iovec){ footer, sizeof footer };
	return mli_writev_full(fd, iov, 3);
}

void mli_tfrecord_reader_on_wait(struct mli_tfrecord_reader *r, void (*fn)(void *ctx), void *ctx)
{
	r->on_wait = fn;
	r->on_wait_ctx = ctx;
}

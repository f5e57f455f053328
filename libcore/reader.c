/* reader.c: a checking, resynchronising frame reader.
 *
 * Input is read into one buffer, [start, end) unconsumed, whose byte 0 is
 * at stream offset base. A frame's payload is always copied (or
 * decompressed) into a separate 64-byte aligned content buffer, so that
 * record views are aligned and the input buffer can be compacted freely. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "error.h"
#include "io.h"
#include "reader.h"

#define READ_CHUNK (256u << 10)

struct mli_reader {
	int fd;
	struct mli_reader_options opt;
	uint8_t *buf;
	size_t cap, start, end;
	uint64_t base;
	int eof;
	uint8_t *content;        /* aligned payload of the current record */
	size_t content_cap;
	ZSTD_DCtx *dctx;
	struct mli_frame_header h;  /* the current record's frame */
	const uint8_t *stored;
	uint64_t record_offset;
	struct mli_segment seg;     /* what the current segment has held so far */
	int need_end;               /* an end frame must come before EOF */
	int sticky;                 /* a returned error, returned again */
	struct mli_reader_stats stats;
	char message[160];
	void (*on_wait)(void *ctx);  /* called before a read that would block */
	void *on_wait_ctx;
};

struct mli_reader *mli_reader_open(int fd, const struct mli_reader_options *opt)
{
	struct mli_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->fd = fd;
	mli_pipe_grow(fd);
	if (opt)
		r->opt = *opt;
	if (r->opt.limit == 0)
		r->opt.limit = MLI_FRAME_LIMIT_DEFAULT;
	r->need_end = 1;
	mli_segment_reset(&r->seg);
	if (!(r->dctx = ZSTD_createDCtx())) {
		free(r);
		return NULL;
	}
	return r;
}

void mli_reader_free(struct mli_reader *r)
{
	if (!r)
		return;
	ZSTD_freeDCtx(r->dctx);
	free(r->buf);
	free(r->content);
	free(r);
}

/* Makes n bytes available at buf + start, reading as needed. Each read
 * takes what the input has ready, so a slow producer is never waited on
 * for more than the frame in hand. The buffer grows by doubling only as
 * data arrives, so a lying length on a short input never causes a large
 * allocation. Returns 1 when the n bytes are there, 0 at end of input
 * before that, or an error. */
static int fill(struct mli_reader *r, size_t n)
{
	while (r->end - r->start < n) {
		ssize_t got;

		if (r->eof)
			return 0;
		if (r->start > 0 && (r->end == r->cap || r->cap - r->start < n)) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->base += r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : READ_CHUNK;
			uint8_t *nb = realloc(r->buf, cap);
			if (!nb)
				return MLI_ENOMEM;
			r->buf = nb;
			r->cap = cap;
		}
		if (r->on_wait) {
			struct pollfd p = { r->fd, POLLIN, 0 };
			if (poll(&p, 1, 0) == 0)
				r->on_wait(r->on_wait_ctx);
		}
		do
			got = read(r->fd, r->buf + r->end, r->cap - r->end);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return MLI_ESYS;
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
	return 1;
}

static uint64_t offset_at(const struct mli_reader *r, size_t pos)
{
	return r->base + pos;
}

static int fail(struct mli_reader *r, int rc, uint64_t offset, const char *what)
{
	snprintf(r->message, sizeof r->message, "offset %llu: %s",
		 (unsigned long long)offset, what ? what : mli_strerror(rc));
	return rc;
}

static int ensure_content(struct mli_reader *r, size_t n)
{
	if (n <= r->content_cap)
		return 0;
	free(r->content);
	r->content_cap = 0;
	if (posix_memalign((void **)&r->content, 64, n ? n : 64) != 0) {
		r->content = NULL;
		return MLI_ENOMEM;
	}
	r->content_cap = n;
	return 0;
}

/* Moves the read position forward to pos, counting the bytes passed. */
static void skip_to(struct mli_reader *r, size_t pos)
{
	r->stats.bytes_skipped += pos - r->start;
	r->start = pos;
}

/* Skip mode: passes over the bad frame at buf + start and searches for the
 * next position holding a magic and a valid header. Returns 1 when found,
 * 0 at end of input, or an error. */
static int resync(struct mli_reader *r)
{
	size_t from = 1; /* where to search, relative to start */
	struct mli_frame_header h;
	int rc;

	r->stats.frames_skipped++;
	r->need_end = 1;
	for (;;) {
		const uint8_t *p = NULL;

		if (r->start + from < r->end)
			p = memmem(r->buf + r->start + from, r->end - r->start - from, MLI_FRAME_MAGIC, 4);
		if (p) {
			skip_to(r, (size_t)(p - r->buf));
			if ((rc = fill(r, MLI_FRAME_HEADER_SIZE)) <= 0) {
				if (rc == 0)
					skip_to(r, r->end);
				return rc;
			}
			if (mli_frame_header_parse(r->buf + r->start, r->opt.limit, &h) == 0)
				return 1;
			from = 1;
			continue;
		}
		if (r->eof) {
			skip_to(r, r->end);
			return 0;
		}
		/* Keep the last 3 bytes: a magic may straddle the next read. */
		if (r->end - r->start > 3)
			skip_to(r, r->end - 3);
		from = 0;
		if ((rc = fill(r, r->end - r->start + 1)) < 0)
			return rc;
	}
}

/* Reads one frame at buf + start into h and the content buffer. Returns 1,
 * 0 at a clean end of input, or an error (with the message set). */
static int read_frame(struct mli_reader *r, const char **why)
{
	uint64_t off = offset_at(r, r->start);
	const uint8_t *stored;
	int rc;

	*why = NULL;
	if ((rc = fill(r, MLI_FRAME_HEADER_SIZE)) < 0)
		return fail(r, rc, off, NULL);
	if (rc == 0) {
		if (r->end == r->start)
			return 0;
		return fail(r, MLI_ETRUNC, off, "truncated frame header");
	}
	if ((rc = mli_frame_header_parse(r->buf + r->start, r->opt.limit, &r->h)) < 0)
		return fail(r, rc, off, NULL);
	if ((rc = fill(r, MLI_FRAME_HEADER_SIZE + (size_t)r->h.stored_size)) < 0)
		return fail(r, rc, off, NULL);
	if (rc == 0)
		return fail(r, MLI_ETRUNC, off, "truncated frame payload");
	stored = r->buf + r->start + MLI_FRAME_HEADER_SIZE;
	if (mli_hash(stored, r->h.stored_size) != r->h.payload_hash)
		return fail(r, MLI_EPAYLOAD, off, NULL);
	if ((rc = ensure_content(r, r->h.content_size)) < 0)
		return fail(r, rc, off, NULL);
	if (r->h.flags & MLI_FLAG_ZSTD) {
		unsigned long long declared = ZSTD_getFrameContentSize(stored, r->h.stored_size);
		size_t n;
		if (declared != r->h.content_size)
			return fail(r, MLI_EZSTD, off, "zstd frame does not declare content_size");
		n = ZSTD_decompressDCtx(r->dctx, r->content, r->h.content_size, stored, r->h.stored_size);
		if (ZSTD_isError(n) || n != r->h.content_size)
			return fail(r, MLI_EZSTD, off, NULL);
	} else {
		memcpy(r->content, stored, r->h.stored_size);
	}
	r->stored = stored;
	r->record_offset = off;
	return 1;
}

/* Compares an end frame with the segment it closes. */
static int check_end(struct mli_reader *r, const struct mli_record *end)
{
	uint64_t count = mli_load64(mli_record_field(end, MLI_TAG_COUNT)->data);
	uint64_t bytes = mli_load64(mli_record_field(end, MLI_TAG_BYTES)->data);
	uint64_t digest = mli_load64(mli_record_field(end, MLI_TAG_DIGEST)->data);
	char what[120];

	if (count == r->seg.count && bytes == r->seg.bytes && digest == r->seg.digest)
		return 0;
	if (count != r->seg.count)
		snprintf(what, sizeof what, "end frame counts %llu records, the stream held %llu",
			 (unsigned long long)count, (unsigned long long)r->seg.count);
	else
		snprintf(what, sizeof what, "end frame digest does not match the records before it");
	return fail(r, MLI_ETRAILER, r->record_offset, what);
}

int mli_reader_next(struct mli_reader *r, struct mli_record *rec)
{
	const char *why;
	int rc;

	if (r->sticky)
		return r->sticky;
	for (;;) {
		rc = read_frame(r, &why);
		if (rc == 0) {
			if (!r->need_end)
				return 0;
			rc = fail(r, MLI_ETRUNC, offset_at(r, r->start),
				  r->seg.count ? "stream ends without an end frame"
					       : "stream ends before its end frame");
			goto out;
		}
		if (rc > 0) {
			rc = mli_record_parse(r->content, r->h.content_size, r->h.type, rec, &why);
			if (rc < 0)
				fail(r, rc, r->record_offset, why);
		}
		if (rc < 0) {
			if (!r->opt.skip_bad || rc == MLI_ESYS || rc == MLI_ENOMEM)
				goto out;
			if ((rc = resync(r)) < 0) {
				fail(r, rc, offset_at(r, r->start), NULL);
				goto out;
			}
			continue;
		}
		r->start += MLI_FRAME_HEADER_SIZE + (size_t)r->h.stored_size;
		r->stats.offset = offset_at(r, r->start);
		if (rec->type != MLI_TYPE_END) {
			mli_segment_add(&r->seg, &r->h);
			r->need_end = 1;
			r->stats.records++;
			return 1;
		}
		rc = check_end(r, rec);
		mli_segment_reset(&r->seg);
		r->need_end = 0;
		if (rc == 0) {
			r->stats.segments++;
		} else if (r->opt.skip_bad) {
			r->stats.bad_segments++;
		} else {
			goto out;
		}
	}
out:
	r->sticky = rc;
	return rc;
}

const char *mli_reader_message(const struct mli_reader *r)
{
	return r->message;
}

uint64_t mli_reader_record_offset(const struct mli_reader *r)
{
	return r->record_offset;
}

void mli_reader_frame(const struct mli_reader *r, struct mli_frame_header *h, const uint8_t **stored)
{
	*h = r->h;
	*stored = r->stored;
}

const struct mli_reader_stats *mli_reader_stats(const struct mli_reader *r)
{
	return &r->stats;
}

void mli_reader_on_wait(struct mli_reader *r, void (*fn)(void *ctx), void *ctx)
{
	r->on_wait = fn;
	r->on_wait_ctx = ctx;
}

int mli_reader_ready(struct mli_reader *r)
{
	struct mli_frame_header h;
	struct pollfd p = { r->fd, POLLIN, 0 };
	size_t at = r->start;

	if (r->eof || r->sticky)
		return 1;
	/* A whole record frame in hand, or a bad header (the next call's to
	 * report): no wait either way. Whole end frames are looked past: the
	 * next call goes on beyond them and would wait there. */
	while (r->end - at >= MLI_FRAME_HEADER_SIZE) {
		if (mli_frame_header_parse(r->buf + at, r->opt.limit, &h) < 0)
			return 1;
		if (r->end - at - MLI_FRAME_HEADER_SIZE < h.stored_size)
			break;
		if (h.type != MLI_TYPE_END)
			return 1;
		at += MLI_FRAME_HEADER_SIZE + h.stored_size;
	}
	return poll(&p, 1, 0) != 0;
}

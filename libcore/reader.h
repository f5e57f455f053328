/* reader.h: reading a stream of frames from a file descriptor.
 *
 * The reader checks every frame (header, payload, record fields) and every
 * end frame, and knows a complete stream from a truncated one. Its buffers
 * grow only as data arrives and are reused from frame to frame. */
#ifndef MLI_READER_H
#define MLI_READER_H

#include <stdint.h>

#include "frame.h"
#include "record.h"

struct mli_reader_options {
	uint32_t limit;  /* largest stored or content size accepted; 0: the default */
	int skip_bad;    /* skip bad frames and resynchronise instead of stopping */
};

struct mli_reader_stats {
	uint64_t records;        /* records returned */
	uint64_t segments;       /* end frames that matched */
	uint64_t bad_segments;   /* end frames that did not (skip mode only) */
	uint64_t frames_skipped; /* bad frames skipped (skip mode only) */
	uint64_t bytes_skipped;  /* bytes passed over while resynchronising */
	uint64_t offset;         /* bytes consumed so far */
};

struct mli_reader;

/* A reader on fd, which it does not close. NULL when out of memory. */
struct mli_reader *mli_reader_open(int fd, const struct mli_reader_options *opt);
void mli_reader_free(struct mli_reader *r);

/* Reads the next record into *rec (a view valid until the next call).
 * Returns 1 for a record, 0 at the end of a complete stream, or a negative
 * error: MLI_ETRUNC when the input ends anywhere but just after an end
 * frame, any frame error of frame.h/record.h, MLI_ETRAILER, MLI_ESYS or
 * MLI_ENOMEM. Errors are sticky. In skip mode, bad frames and mismatched
 * end frames are counted in the stats instead of returned; the read error
 * and truncation are still returned. */
int mli_reader_next(struct mli_reader *r, struct mli_record *rec);

/* "offset N: what is wrong" for the last error or skipped frame. */
const char *mli_reader_message(const struct mli_reader *r);

/* Byte offset of the frame of the last record returned. */
uint64_t mli_reader_record_offset(const struct mli_reader *r);

/* The header and stored payload of the last record returned, for copying
 * the frame verbatim (valid until the next call). */
void mli_reader_frame(const struct mli_reader *r, struct mli_frame_header *h,
		      const uint8_t **stored);

const struct mli_reader_stats *mli_reader_stats(const struct mli_reader *r);

/* Whether mli_reader_next() can go on without waiting for input: a whole
 * frame is already read, the input has ended or failed, or the descriptor
 * has data ready. 1 or 0. A filter that gathers records into chunks cuts
 * a chunk short when this is 0, rather than hold records back while a
 * slow producer sends the rest. */
int mli_reader_ready(struct mli_reader *r);

/* Has the reader call fn(ctx) whenever it is about to wait for input that
 * has not arrived (a pipe with nothing in it yet), on the thread that
 * called mli_reader_next(). A filter passes a function that writes out
 * what it holds (mli_writer_flush): otherwise a slow producer upstream
 * would leave finished records in the filter's buffers, unseen downstream
 * and lost if the filter is killed. fn's errors are its own to keep (a
 * writer's are sticky). NULL: no call. */
void mli_reader_on_wait(struct mli_reader *r, void (*fn)(void *ctx), void *ctx);

#endif

/* writer.h: writing a stream of frames to a file descriptor.
 *
 * A record is built in place, field by field, between mli_writer_begin()
 * and mli_writer_end(); the writer then compresses it (or stores it raw
 * when that is smaller), hashes it and writes the frame. Small frames are
 * gathered into one buffer between writes; a frame is never split across
 * two write calls unless it is larger than that buffer.
 *
 * Every call returns 0 or a negative error; a write error is sticky and
 * MLI_EPIPE means the reader at the other end has gone. */
#ifndef MLI_WRITER_H
#define MLI_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "record.h"

struct mli_writer_options {
	int level;  /* zstd level, 1-19; 0: the default (3); -1: never compress */
};

#define MLI_LEVEL_DEFAULT 3

struct mli_writer_stats {
	uint64_t records;        /* records written (the end frames not counted) */
	uint64_t content_bytes;  /* their payloads, uncompressed */
	uint64_t stream_bytes;   /* every byte written, headers included */
};

struct mli_writer;

/* A writer on fd, which it does not close. NULL when out of memory. */
struct mli_writer *mli_writer_open(int fd, const struct mli_writer_options *opt);

/* Frees the writer without writing an end frame or flushing. */
void mli_writer_free(struct mli_writer *w);

/* Starts a record of this type. */
int mli_writer_begin(struct mli_writer *w, int type);

/* Appends a field with a copy of size bytes. */
int mli_writer_field(struct mli_writer *w, uint32_t tag, const void *data, size_t size);

/* Appends a field of size bytes and returns where to fill it in *data,
 * valid until the next call on the writer. */
int mli_writer_field_reserve(struct mli_writer *w, uint32_t tag, size_t size, void **data);

/* Appends a KEY field; MLI_EINVAL for an empty, overlong or NUL key. */
int mli_writer_key(struct mli_writer *w, const char *key, size_t len);

/* Appends a LABELS field (nothing when n is 0). */
int mli_writer_labels(struct mli_writer *w, const struct mli_label *labels, size_t n);

/* Appends a tensor field and returns where to fill its elements in *data. */
int mli_writer_tensor_reserve(struct mli_writer *w, uint32_t tag, int dtype, int ndim,
			      const uint32_t *dims, void **data);

/* Appends every field of rec (a record read from another stream). */
int mli_writer_fields(struct mli_writer *w, const struct mli_record *rec);

/* Finishes the record begun and writes its frame. */
int mli_writer_end(struct mli_writer *w);

/* Writes a frame read elsewhere as it is, without recompressing. */
int mli_writer_copy_frame(struct mli_writer *w, const struct mli_frame_header *h,
			  const uint8_t *stored);

/* Writes out gathered frames. */
int mli_writer_flush(struct mli_writer *w);

/* mli_writer_flush() for mli_reader_on_wait(): w is the writer; an error
 * stays in the writer (sticky) for its next call to return. */
void mli_writer_flush_hook(void *w);

/* Writes the end frame of the records so far and flushes. */
int mli_writer_finish(struct mli_writer *w);

const struct mli_writer_stats *mli_writer_stats(const struct mli_writer *w);

#endif

/* frame.h: the 32-byte frame header of an mli stream, as man/mli-frame.5
 * specifies it. This module knows bytes only: it packs and checks headers
 * and hashes; reader.c and writer.c move frames through file descriptors. */
#ifndef MLI_FRAME_H
#define MLI_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MLI_FRAME_HEADER_SIZE 32
#define MLI_FRAME_VERSION 1
#define MLI_FRAME_MAGIC "\x89MLF"

/* Frame flags (header bytes 6-7). */
#define MLI_FLAG_ZSTD 0x0001u
#define MLI_FLAGS_KNOWN MLI_FLAG_ZSTD

/* Default and hard limits on stored and content sizes. */
#define MLI_FRAME_LIMIT_DEFAULT ((uint32_t)256 << 20)
#define MLI_FRAME_LIMIT_MAX UINT32_MAX

/* Record types (header byte 5). */
enum mli_type {
	MLI_TYPE_END = 0,
	MLI_TYPE_ANNOTATION = 1,
	MLI_TYPE_ENCODED = 2,
	MLI_TYPE_IMAGE = 3,
	MLI_TYPE_BATCH = 4,
	MLI_TYPE_FEATURES = 5
};

struct mli_frame_header {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t stored_size;   /* payload bytes in the stream */
	uint32_t content_size;  /* payload bytes once decompressed */
	uint64_t payload_hash;  /* XXH3-64 of the stored payload */
};

/* Packs h into out (32 bytes), computing the header hash. */
void mli_frame_header_pack(const struct mli_frame_header *h, uint8_t *out);

/* Checks 32 bytes at in against the header rules of mli-frame(5), in the
 * order it gives, and the limit on both sizes. Fills h and returns 0, or
 * MLI_EMAGIC, MLI_EHEADER, MLI_EVERSION or MLI_ELIMIT. */
int mli_frame_header_parse(const uint8_t *in, uint32_t limit, struct mli_frame_header *h);

/* XXH3-64 (seed 0) of len bytes: the hash every checksum in the format uses. */
uint64_t mli_hash(const void *data, size_t len);

/* The name of a record type ("ANNOTATION"), or NULL for an unknown type. */
const char *mli_type_name(int type);

/* What a segment (the records since the last end frame) has held: the
 * figures its end frame records. */
struct mli_segment {
	uint64_t count;   /* records */
	uint64_t bytes;   /* sum of their content sizes */
	uint64_t digest;  /* chained hash of their payload hashes */
};

void mli_segment_reset(struct mli_segment *s);

/* Accounts for one record's frame. */
void mli_segment_add(struct mli_segment *s, const struct mli_frame_header *h);

/* Little-endian loads and stores; the format is little-endian throughout. */
static inline uint32_t mli_load32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t mli_load64(const uint8_t *p)
{
	return (uint64_t)mli_load32(p) | (uint64_t)mli_load32(p + 4) << 32;
}

static inline void mli_store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void mli_store64(uint8_t *p, uint64_t v)
{
	mli_store32(p, (uint32_t)v);
	mli_store32(p + 4, (uint32_t)(v >> 32));
}

#endif

/* frame.c: packing and checking frame headers. */
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "frame.h"

uint64_t mli_hash(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

void mli_frame_header_pack(const struct mli_frame_header *h, uint8_t *out)
{
	memcpy(out, MLI_FRAME_MAGIC, 4);
	out[4] = h->version;
	out[5] = h->type;
	out[6] = (uint8_t)h->flags;
	out[7] = (uint8_t)(h->flags >> 8);
	mli_store32(out + 8, h->stored_size);
	mli_store32(out + 12, h->content_size);
	mli_store64(out + 16, h->payload_hash);
	mli_store32(out + 24, 0);
	mli_store32(out + 28, (uint32_t)mli_hash(out, 28));
}

int mli_frame_header_parse(const uint8_t *in, uint32_t limit, struct mli_frame_header *h)
{
	if (memcmp(in, MLI_FRAME_MAGIC, 4) != 0)
		return MLI_EMAGIC;
	if (mli_load32(in + 28) != (uint32_t)mli_hash(in, 28))
		return MLI_EHEADER;
	h->version = in[4];
	h->type = in[5];
	h->flags = (uint16_t)(in[6] | in[7] << 8);
	h->stored_size = mli_load32(in + 8);
	h->content_size = mli_load32(in + 12);
	h->payload_hash = mli_load64(in + 16);
	if (h->version != MLI_FRAME_VERSION || (h->flags & ~MLI_FLAGS_KNOWN) != 0
	    || mli_load32(in + 24) != 0)
		return MLI_EVERSION;
	if (h->stored_size > limit || h->content_size > limit)
		return MLI_ELIMIT;
	if (!(h->flags & MLI_FLAG_ZSTD) && h->stored_size != h->content_size)
		return MLI_ESIZE;
	return 0;
}

const char *mli_type_name(int type)
{
	static const char *const names[] = {
		[MLI_TYPE_END] = "END",
		[MLI_TYPE_ANNOTATION] = "ANNOTATION",
		[MLI_TYPE_ENCODED] = "ENCODED",
		[MLI_TYPE_IMAGE] = "IMAGE",
		[MLI_TYPE_BATCH] = "BATCH",
		[MLI_TYPE_FEATURES] = "FEATURES",
	};

	if (type < 0 || (size_t)type >= sizeof names / sizeof names[0])
		return NULL;
	return names[type];
}

void mli_segment_reset(struct mli_segment *s)
{
	s->count = 0;
	s->bytes = 0;
	s->digest = 0;
}

/* The digest chains hashes: digest = XXH3-64 of the record's 8-byte
 * little-endian payload hash, seeded with the previous digest. Order,
 * loss and duplication all change it. */
void mli_segment_add(struct mli_segment *s, const struct mli_frame_header *h)
{
	uint8_t le[8];

	mli_store64(le, h->payload_hash);
	s->count++;
	s->bytes += h->content_size;
	s->digest = XXH3_64bits_withSeed(le, sizeof le, s->digest);
}

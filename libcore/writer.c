/* writer.c: building, compressing and writing frames. */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getCParams */
#include <zstd.h>

#include "error.h"
#include "io.h"
#include "writer.h"

#define PAD8(n) (((n) + 7) & ~(size_t)7)
#define GATHER_SIZE (128u << 10)

struct mli_writer {
	int fd;
	int level;
	ZSTD_CCtx *cctx;
	uint8_t *content;       /* the record being built; 64-byte aligned */
	size_t content_len, content_cap;
	int type;               /* of the record being built; -1: none */
	uint8_t *packed;        /* compressed payload */
	size_t packed_cap;
	uint8_t gather[GATHER_SIZE]; /* small frames waiting for one write */
	size_t gathered;
	struct mli_segment seg;
	int sticky;
	struct mli_writer_stats stats;
};

struct mli_writer *mli_writer_open(int fd, const struct mli_writer_options *opt)
{
	struct mli_writer *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->fd = fd;
	mli_pipe_grow(fd);
	w->type = -1;
	w->level = opt && opt->level ? opt->level : MLI_LEVEL_DEFAULT;
	mli_segment_reset(&w->seg);
	if (w->level > 0) {
		if (!(w->cctx = ZSTD_createCCtx()))
			goto fail;
		/* The level's parameters for a stream of unknown size, set
		 * explicitly: told each record's size, zstd would pick its
		 * small-input tables, which compress a little better but
		 * slower than the same level on a stream. */
		ZSTD_compressionParameters cp = ZSTD_getCParams(w->level, 0, 0);
		if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->level))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, (int)cp.windowLog))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_chainLog, (int)cp.chainLog))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, (int)cp.hashLog))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_searchLog, (int)cp.searchLog))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_minMatch, (int)cp.minMatch))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_targetLength, (int)cp.targetLength))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_strategy, (int)cp.strategy))
		    || ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1)))
			goto fail;
	}
	return w;
fail:
	mli_writer_free(w);
	return NULL;
}

void mli_writer_free(struct mli_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->cctx);
	free(w->content);
	free(w->packed);
	free(w);
}

/* Grows the content buffer (keeping its bytes) to hold n more. */
static int reserve(struct mli_writer *w, size_t n)
{
	size_t need = w->content_len + n, cap;
	uint8_t *nb;

	if (n > UINT32_MAX || need > UINT32_MAX)
		return MLI_ERANGE;
	if (need <= w->content_cap)
		return 0;
	cap = w->content_cap ? w->content_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (posix_memalign((void **)&nb, 64, cap) != 0)
		return MLI_ENOMEM;
	if (w->content_len)
		memcpy(nb, w->content, w->content_len);
	free(w->content);
	w->content = nb;
	w->content_cap = cap;
	return 0;
}

int mli_writer_begin(struct mli_writer *w, int type)
{
	if (type < 0 || type > 255)
		return MLI_EINVAL;
	w->type = type;
	w->content_len = 0;
	return w->sticky;
}

int mli_writer_field_reserve(struct mli_writer *w, uint32_t tag, size_t size, void **data)
{
	size_t padded = PAD8(8 + size);
	int rc;

	if (w->type < 0 || size > UINT32_MAX)
		return MLI_EINVAL;
	if ((rc = reserve(w, padded)) < 0)
		return rc;
	mli_store32(w->content + w->content_len, tag);
	mli_store32(w->content + w->content_len + 4, (uint32_t)size);
	memset(w->content + w->content_len + 8 + size, 0, padded - 8 - size);
	*data = w->content + w->content_len + 8;
	w->content_len += padded;
	return 0;
}

int mli_writer_field(struct mli_writer *w, uint32_t tag, const void *data, size_t size)
{
	void *dst;
	int rc = mli_writer_field_reserve(w, tag, size, &dst);

	if (rc == 0 && size)
		memcpy(dst, data, size);
	return rc;
}

int mli_writer_key(struct mli_writer *w, const char *key, size_t len)
{
	if (!mli_text_valid((const uint8_t *)key, len, MLI_KEY_MAX))
		return MLI_EINVAL;
	return mli_writer_field(w, MLI_TAG_KEY, key, len);
}

int mli_writer_labels(struct mli_writer *w, const struct mli_label *labels, size_t n)
{
	if (n == 0)
		return 0;
	return mli_writer_field(w, MLI_TAG_LABELS, labels, n * sizeof *labels);
}

int mli_writer_tensor_reserve(struct mli_writer *w, uint32_t tag, int dtype, int ndim,
			      const uint32_t *dims, void **data)
{
	uint8_t header[4 + 4 * MLI_TENSOR_NDIM_MAX + 8];
	size_t data_size;
	void *field;
	int hsize = mli_tensor_header(dtype, ndim, dims, header, &data_size);
	int rc;

	if (hsize < 0)
		return hsize;
	if ((rc = mli_writer_field_reserve(w, tag, (size_t)hsize + data_size, &field)) < 0)
		return rc;
	memcpy(field, header, (size_t)hsize);
	*data = (uint8_t *)field + hsize;
	return 0;
}

int mli_writer_fields(struct mli_writer *w, const struct mli_record *rec)
{
	for (size_t i = 0; i < rec->n_fields; i++) {
		int rc = mli_writer_field(w, rec->fields[i].tag, rec->fields[i].data, rec->fields[i].size);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int mli_writer_flush(struct mli_writer *w)
{
	int rc;

	if (w->sticky)
		return w->sticky;
	if (w->gathered == 0)
		return 0;
	rc = mli_write_full(w->fd, w->gather, w->gathered);
	w->gathered = 0;
	return w->sticky = rc;
}

/* Writes one frame: into the gather buffer when it fits, otherwise after
 * flushing, in one writev of header and payload. */
static int put_frame(struct mli_writer *w, const struct mli_frame_header *h, const uint8_t *stored)
{
	uint8_t header[MLI_FRAME_HEADER_SIZE];
	size_t total = MLI_FRAME_HEADER_SIZE + (size_t)h->stored_size;
	int rc;

	if (w->sticky)
		return w->sticky;
	mli_frame_header_pack(h, header);
	if (total > sizeof w->gather - w->gathered && (rc = mli_writer_flush(w)) < 0)
		return rc;
	if (total <= sizeof w->gather - w->gathered) {
		memcpy(w->gather + w->gathered, header, sizeof header);
		memcpy(w->gather + w->gathered + sizeof header, stored, h->stored_size);
		w->gathered += total;
	} else {
		struct iovec iov[2] = { { header, sizeof header }, { (void *)stored, h->stored_size } };
		if ((rc = w->sticky = mli_writev_full(w->fd, iov, 2)) < 0)
			return rc;
	}
	w->stats.stream_bytes += total;
	if (h->type != MLI_TYPE_END) {
		mli_segment_add(&w->seg, h);
		w->stats.records++;
		w->stats.content_bytes += h->content_size;
	}
	return 0;
}

int mli_writer_end(struct mli_writer *w)
{
	struct mli_frame_header h = { MLI_FRAME_VERSION, 0, 0, 0, 0, 0 };
	const uint8_t *stored = w->content;

	if (w->type < 0)
		return MLI_EINVAL;
	h.type = (uint8_t)w->type;
	h.content_size = h.stored_size = (uint32_t)w->content_len;
	w->type = -1;
	if (w->cctx && w->content_len > 0) {
		size_t bound = ZSTD_compressBound(w->content_len), n;
		if (bound > w->packed_cap) {
			uint8_t *nb = malloc(bound);
			if (!nb)
				return MLI_ENOMEM;
			free(w->packed);
			w->packed = nb;
			w->packed_cap = bound;
		}
		/* A payload is stored raw unless zstd makes it smaller. */
		n = ZSTD_compress2(w->cctx, w->packed, w->packed_cap, w->content, w->content_len);
		if (!ZSTD_isError(n) && n < w->content_len) {
			h.flags = MLI_FLAG_ZSTD;
			h.stored_size = (uint32_t)n;
			stored = w->packed;
		}
	}
	h.payload_hash = mli_hash(stored, h.stored_size);
	return put_frame(w, &h, stored);
}

int mli_writer_copy_frame(struct mli_writer *w, const struct mli_frame_header *h, const uint8_t *stored)
{
	return put_frame(w, h, stored);
}

int mli_writer_finish(struct mli_writer *w)
{
	uint8_t v[8];
	int rc;

	if ((rc = mli_writer_begin(w, MLI_TYPE_END)) < 0)
		return rc;
	mli_store64(v, w->seg.count);
	if ((rc = mli_writer_field(w, MLI_TAG_COUNT, v, 8)) < 0)
		return rc;
	mli_store64(v, w->seg.bytes);
	if ((rc = mli_writer_field(w, MLI_TAG_BYTES, v, 8)) < 0)
		return rc;
	mli_store64(v, w->seg.digest);
	if ((rc = mli_writer_field(w, MLI_TAG_DIGEST, v, 8)) < 0 || (rc = mli_writer_end(w)) < 0)
		return rc;
	mli_segment_reset(&w->seg);
	return mli_writer_flush(w);
}

const struct mli_writer_stats *mli_writer_stats(const struct mli_writer *w)
{
	return &w->stats;
}

void mli_writer_flush_hook(void *w)
{
	(void)mli_writer_flush(w);
}

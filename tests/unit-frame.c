/* unit-frame.c: the frame stream, record by record and fault by fault.
 *
 * Streams are written to memory files and read back. Every corruption
 * class of mli-frame(5) is tried: bit flips, truncation at every offset,
 * lying lengths, garbage between frames, reordering, and concatenation. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mli.h"
#include "tap.h"

struct buf {
	uint8_t *p;
	size_t n;
};

/* A memory file holding len bytes, positioned at the start. */
static int memfile(const void *data, size_t len)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);

	if (fd < 0 || mli_write_full(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	return fd;
}

static struct buf slurp(int fd)
{
	struct buf b = { NULL, 0 };
	off_t end = lseek(fd, 0, SEEK_END);

	b.n = (size_t)end;
	b.p = malloc(b.n ? b.n : 1);
	if (!b.p || lseek(fd, 0, SEEK_SET) < 0 || mli_read_full(fd, b.p, b.n) != (ssize_t)b.n)
		abort();
	close(fd);
	return b;
}

static void put_annotation(struct mli_writer *w, const char *key, uint32_t cls, float conf)
{
	struct mli_label l[2] = { { cls, conf }, { cls + 1, 1.0f } };

	if (mli_writer_begin(w, MLI_TYPE_ANNOTATION) < 0 || mli_writer_key(w, key, strlen(key)) < 0
	    || mli_writer_labels(w, l, 2) < 0 || mli_writer_end(w) < 0)
		abort();
}

/* An image record whose pixels follow a pattern of the seed. */
static void put_image(struct mli_writer *w, const char *key, uint32_t h, uint32_t wd, int seed)
{
	uint32_t dims[3] = { h, wd, 3 };
	uint8_t *px;

	if (mli_writer_begin(w, MLI_TYPE_IMAGE) < 0 || mli_writer_key(w, key, strlen(key)) < 0
	    || mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, (void **)&px) < 0)
		abort();
	for (size_t i = 0; i < (size_t)h * wd * 3; i++)
		px[i] = (uint8_t)(i * 7 + (size_t)seed);
	if (mli_writer_end(w) < 0)
		abort();
}

/* A stream of a few mixed records, compressed and not. */
static struct buf sample_stream(int records)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);
	struct mli_writer *w = mli_writer_open(fd, NULL);
	char key[64];

	for (int i = 0; i < records; i++) {
		snprintf(key, sizeof key, "http://example.org/%d.jpg", i);
		if (i % 2)
			put_image(w, key, 5, 7, i);
		else
			put_annotation(w, key, (uint32_t)i, 0.5f);
	}
	if (mli_writer_finish(w) < 0)
		abort();
	mli_writer_free(w);
	return slurp(fd);
}

/* Reads the whole of b; returns the last rc (0: complete) and the count. */
static int read_all(const struct buf *b, int skip_bad, uint32_t limit, size_t *count,
		    struct mli_reader_stats *stats)
{
	int fd = memfile(b->p, b->n);
	struct mli_reader_options o = { limit, skip_bad };
	struct mli_reader *r = mli_reader_open(fd, &o);
	struct mli_record rec;
	int rc;

	*count = 0;
	while ((rc = mli_reader_next(r, &rec)) > 0)
		(*count)++;
	if (stats)
		*stats = *mli_reader_stats(r);
	mli_reader_free(r);
	close(fd);
	return rc;
}

static void test_every_record_type_round_trips(struct tap *tap)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);
	struct mli_writer *w = mli_writer_open(fd, NULL);
	struct mli_label labels[3] = { { 4, 1.0f }, { 11165, 0.8f }, { 7, -1.0f } };
	uint8_t blob[300];
	uint32_t in_dims[4] = { 2, 3, 4, 5 }, tgt_dims[2] = { 2, 6 };
	uint8_t *in;
	float *tgt;
	uint8_t bl[4 * 2 + 3 * 8];
	struct mli_reader *r;
	struct mli_record rec;
	struct mli_tensor t;
	const struct mli_field *f;
	const char *why;
	struct buf b;

	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (uint8_t)(i * 31);
	put_annotation(w, "http://example.org/a.jpg", 12, 0.9f);
	ASSERT_EQ(mli_writer_begin(w, MLI_TYPE_ENCODED), 0);
	ASSERT_EQ(mli_writer_key(w, "im_0.jpg", 8), 0);
	ASSERT_EQ(mli_writer_labels(w, labels, 3), 0);
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_BLOB, blob, sizeof blob), 0);
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_MEDIA, "image/jpeg", 10), 0);
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_SOURCE, "/data/im_0.jpg", 14), 0);
	ASSERT_EQ(mli_writer_end(w), 0);
	put_image(w, "im_1.jpg", 3, 2, 1);
	ASSERT_EQ(mli_writer_begin(w, MLI_TYPE_BATCH), 0);
	ASSERT_EQ(mli_writer_key(w, "batch-0", 7), 0);
	ASSERT_EQ(mli_writer_tensor_reserve(w, MLI_TAG_INPUT, MLI_DTYPE_U8, 4, in_dims, (void **)&in), 0);
	for (int i = 0; i < 120; i++)
		in[i] = (uint8_t)i;
	ASSERT_EQ(mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tgt_dims, (void **)&tgt), 0);
	for (int i = 0; i < 12; i++)
		tgt[i] = (float)i / 4;
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_KEYS, "a\0bc", 5), 0);
	mli_store32(bl, 1);
	mli_store32(bl + 4, 2);
	memcpy(bl + 8, labels, sizeof labels);
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_BATCH_LABELS, bl, sizeof bl), 0);
	ASSERT_EQ(mli_writer_end(w), 0);
	/* A type and a field this version does not know pass through. */
	ASSERT_EQ(mli_writer_begin(w, 200), 0);
	ASSERT_EQ(mli_writer_key(w, "future", 6), 0);
	ASSERT_EQ(mli_writer_field(w, 99, "xyz", 3), 0);
	ASSERT_EQ(mli_writer_end(w), 0);
	ASSERT_EQ(mli_writer_finish(w), 0);
	ASSERT_EQ(mli_writer_stats(w)->records, 5);
	mli_writer_free(w);
	b = slurp(fd);

	fd = memfile(b.p, b.n);
	r = mli_reader_open(fd, NULL);
	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	ASSERT_EQ(rec.type, MLI_TYPE_ANNOTATION);
	ASSERT_EQ(rec.key_len, 24);
	ASSERT_MEM_EQ(rec.key, "http://example.org/a.jpg", 24);
	ASSERT_EQ(rec.n_labels, 2);
	ASSERT_EQ(rec.labels[0].cls, 12);
	ASSERT(rec.labels[0].conf == 0.9f);

	if (mli_reader_next(r, &rec) != 1)
		TAP_FAIL("%s", mli_reader_message(r));
	ASSERT_EQ(rec.type, MLI_TYPE_ENCODED);
	ASSERT_EQ(rec.n_labels, 3);
	ASSERT_EQ(rec.labels[1].cls, 11165);
	ASSERT(rec.labels[2].conf == -1.0f);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_BLOB)) != NULL);
	ASSERT_EQ(f->size, sizeof blob);
	ASSERT_MEM_EQ(f->data, blob, sizeof blob);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_MEDIA)) != NULL);
	ASSERT_MEM_EQ(f->data, "image/jpeg", 10);

	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	ASSERT_EQ(rec.type, MLI_TYPE_IMAGE);
	ASSERT_EQ(mli_record_tensor(&rec, MLI_TAG_PIXELS, &t, &why), 0);
	ASSERT_EQ(t.dims[0], 3);
	ASSERT_EQ(t.dims[1], 2);
	ASSERT_EQ(t.dims[2], 3);
	ASSERT_EQ(t.count, 18);
	ASSERT_EQ(((const uint8_t *)t.data)[17], (uint8_t)(17 * 7 + 1));
	ASSERT_EQ((uintptr_t)t.data % 8, 0);

	if (mli_reader_next(r, &rec) != 1)
		TAP_FAIL("%s", mli_reader_message(r));
	ASSERT_EQ(rec.type, MLI_TYPE_BATCH);
	ASSERT_EQ(mli_record_tensor(&rec, MLI_TAG_INPUT, &t, &why), 0);
	ASSERT_EQ(t.ndim, 4);
	ASSERT_EQ(((const uint8_t *)t.data)[119], 119);
	ASSERT_EQ(mli_record_tensor(&rec, MLI_TAG_TARGET, &t, &why), 0);
	ASSERT(((const float *)t.data)[11] == 2.75f);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_KEYS)) != NULL);
	ASSERT_EQ(f->size, 5);
	ASSERT_MEM_EQ(f->data, "a\0bc", 5);

	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	ASSERT_EQ(rec.type, 200);
	ASSERT((f = mli_record_field(&rec, 99)) != NULL);
	ASSERT_MEM_EQ(f->data, "xyz", 3);

	ASSERT_EQ(mli_reader_next(r, &rec), 0);
	ASSERT_EQ(mli_reader_next(r, &rec), 0);
	ASSERT_EQ(mli_reader_stats(r)->records, 5);
	ASSERT_EQ(mli_reader_stats(r)->segments, 1);
	ASSERT_EQ(mli_reader_stats(r)->offset, b.n);
	mli_reader_free(r);
	close(fd);
	free(b.p);
}

static void test_compression_is_used_only_when_it_pays(struct tap *tap)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);
	struct mli_writer *w = mli_writer_open(fd, NULL);
	uint8_t noise[4096];
	uint64_t x = 88172645463325252ull;
	struct mli_reader *r;
	struct mli_record rec;
	struct mli_frame_header h;
	const uint8_t *stored;
	struct buf b;

	for (size_t i = 0; i < sizeof noise; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		noise[i] = (uint8_t)x;
	}
	put_image(w, "compressible", 32, 32, 0);
	ASSERT_EQ(mli_writer_begin(w, MLI_TYPE_ENCODED), 0);
	ASSERT_EQ(mli_writer_key(w, "noise", 5), 0);
	ASSERT_EQ(mli_writer_field(w, MLI_TAG_BLOB, noise, sizeof noise), 0);
	ASSERT_EQ(mli_writer_end(w), 0);
	ASSERT_EQ(mli_writer_finish(w), 0);
	mli_writer_free(w);
	b = slurp(fd);
	fd = memfile(b.p, b.n);
	r = mli_reader_open(fd, NULL);
	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	mli_reader_frame(r, &h, &stored);
	ASSERT_EQ(h.flags, MLI_FLAG_ZSTD);
	ASSERT(h.stored_size < h.content_size / 4);
	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	mli_reader_frame(r, &h, &stored);
	ASSERT_EQ(h.flags, 0);
	ASSERT_EQ(h.stored_size, h.content_size);
	ASSERT_EQ(mli_reader_next(r, &rec), 0);
	mli_reader_free(r);
	close(fd);
	free(b.p);
}

static void test_every_bit_flip_is_detected(struct tap *tap)
{
	struct buf b = sample_stream(6);
	size_t count;

	/* Every single bit of the stream, flipped in turn. */
	for (size_t i = 0; i < b.n; i++)
		for (int bit = 0; bit < 8; bit++) {
			int rc;
			b.p[i] ^= (uint8_t)(1u << bit);
			rc = read_all(&b, 0, 0, &count, NULL);
			b.p[i] ^= (uint8_t)(1u << bit);
			if (rc >= 0)
				TAP_FAIL("flip of bit %d at offset %zu went unnoticed", bit, i);
		}
	free(b.p);
}

static void test_random_damage_never_crashes_in_skip_mode(struct tap *tap)
{
	struct buf b = sample_stream(8);
	uint8_t *orig = malloc(b.n);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t count;

	memcpy(orig, b.p, b.n);
	for (int round = 0; round < 3000; round++) {
		int flips = 1 + round % 5;
		memcpy(b.p, orig, b.n);
		for (int k = 0; k < flips; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b.p[x % b.n] ^= (uint8_t)(1u << (x >> 40) % 8);
		}
		if (read_all(&b, 0, 0, &count, NULL) >= 0)
			TAP_FAIL("damage in round %d went unnoticed", round);
		(void)read_all(&b, 1, 0, &count, NULL);
		ASSERT(count <= 8);
	}
	free(orig);
	free(b.p);
}

static void test_truncation_at_every_offset_is_detected(struct tap *tap)
{
	struct buf b = sample_stream(4);
	size_t full = b.n, count;

	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), 0);
	ASSERT_EQ(count, 4);
	for (size_t cut = 0; cut < full; cut++) {
		struct mli_reader_stats st;
		b.n = cut;
		if (read_all(&b, 0, 0, &count, NULL) != MLI_ETRUNC)
			TAP_FAIL("a stream cut at %zu of %zu did not read as truncated", cut, full);
		if (read_all(&b, 1, 0, &count, &st) != MLI_ETRUNC)
			TAP_FAIL("in skip mode, a stream cut at %zu did not read as truncated", cut);
	}
	free(b.p);
}

static void test_empty_input_is_truncated(struct tap *tap)
{
	struct buf b = { (uint8_t *)"", 0 };
	size_t count;

	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_ETRUNC);
}

static void test_an_empty_stream_is_just_an_end_frame(struct tap *tap)
{
	struct buf b = sample_stream(0);
	size_t count;

	ASSERT(b.n <= 32 + 3 * 16);
	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), 0);
	ASSERT_EQ(count, 0);
	free(b.p);
}

/* Rewrites both sizes of the first (raw) frame and fixes its header hash,
 * so that only the length lies. */
static void lie_about_length(uint8_t *frame, uint32_t stored)
{
	mli_store32(frame + 8, stored);
	mli_store32(frame + 12, stored);
	mli_store32(frame + 28, (uint32_t)mli_hash(frame, 28));
}

static void test_lying_lengths_are_caught_before_allocation(struct tap *tap)
{
	struct buf b = sample_stream(3);
	struct mli_reader *r;
	struct mli_record rec;
	size_t count;
	int fd;

	/* Beyond the limit: refused from the header alone. */
	lie_about_length(b.p, 0x7fffffff);
	fd = memfile(b.p, b.n);
	r = mli_reader_open(fd, NULL);
	ASSERT_EQ(mli_reader_next(r, &rec), MLI_ELIMIT);
	ASSERT(strstr(mli_reader_message(r), "offset 0: ") == mli_reader_message(r));
	mli_reader_free(r);
	close(fd);

	/* Within the limit but longer than the stream: truncated. */
	lie_about_length(b.p, 100u << 20);
	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_ETRUNC);
	/* Shorter than the payload: the payload hash fails. */
	lie_about_length(b.p, 8);
	ASSERT(read_all(&b, 0, 0, &count, NULL) < 0);
	/* A raw frame whose sizes differ. */
	lie_about_length(b.p, 8);
	mli_store32(b.p + 12, 9);
	mli_store32(b.p + 28, (uint32_t)mli_hash(b.p, 28));
	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_ESIZE);
	free(b.p);

	/* A tight limit refuses a frame over it. */
	b = sample_stream(2);
	ASSERT_EQ(read_all(&b, 0, 64, &count, NULL), MLI_ELIMIT);
	ASSERT_EQ(read_all(&b, 0, 4096, &count, NULL), 0);
	free(b.p);
}

static void test_garbage_between_frames_is_skipped_and_counted(struct tap *tap)
{
	struct buf a = sample_stream(3), b;
	size_t first, count;
	struct mli_reader_stats st;
	int fd;

	/* The first record's frame ends at 32 + its stored size. */
	first = 32 + mli_load32(a.p + 8);
	b.n = a.n + 100;
	b.p = malloc(b.n);
	memcpy(b.p, a.p, first);
	memset(b.p + first, 'x', 97);
	memcpy(b.p + first + 97, MLI_FRAME_MAGIC, 3); /* a false start */
	memcpy(b.p + first + 100, a.p + first, a.n - first);

	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_EMAGIC);
	ASSERT_EQ(count, 1);
	ASSERT_EQ(read_all(&b, 1, 0, &count, &st), 0);
	ASSERT_EQ(count, 3);
	ASSERT_EQ(st.frames_skipped, 1);
	ASSERT_EQ(st.bytes_skipped, 100);
	ASSERT_EQ(st.segments, 1);
	ASSERT_EQ(st.bad_segments, 0);

	/* The message names the offset of the garbage. */
	fd = memfile(b.p, b.n);
	{
		struct mli_reader *r = mli_reader_open(fd, NULL);
		struct mli_record rec;
		char want[64];
		ASSERT_EQ(mli_reader_next(r, &rec), 1);
		ASSERT_EQ(mli_reader_next(r, &rec), MLI_EMAGIC);
		snprintf(want, sizeof want, "offset %zu: not an mli frame (bad magic)", first);
		if (strcmp(mli_reader_message(r), want) != 0)
			TAP_FAIL("message '%s', expected '%s'", mli_reader_message(r), want);
		mli_reader_free(r);
	}
	close(fd);
	free(a.p);
	free(b.p);
}

static void test_lost_and_reordered_frames_fail_the_end_frame(struct tap *tap)
{
	struct buf a = sample_stream(3), b;
	size_t f1 = 32 + mli_load32(a.p + 8);
	size_t f2 = 32 + mli_load32(a.p + f1 + 8);
	struct mli_reader_stats st;
	size_t count;

	/* The second frame cut out. */
	b.n = a.n - f2;
	b.p = malloc(a.n);
	memcpy(b.p, a.p, f1);
	memcpy(b.p + f1, a.p + f1 + f2, a.n - f1 - f2);
	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_ETRAILER);
	ASSERT_EQ(read_all(&b, 1, 0, &count, &st), 0);
	ASSERT_EQ(st.bad_segments, 1);

	/* The first two frames swapped. */
	b.n = a.n;
	memcpy(b.p, a.p + f1, f2);
	memcpy(b.p + f2, a.p, f1);
	memcpy(b.p + f1 + f2, a.p + f1 + f2, a.n - f1 - f2);
	ASSERT_EQ(read_all(&b, 0, 0, &count, NULL), MLI_ETRAILER);
	free(a.p);
	free(b.p);
}

static void test_concatenated_streams_are_one_valid_stream(struct tap *tap)
{
	struct buf a = sample_stream(3), c = sample_stream(5), b;
	struct mli_reader_stats st;
	size_t count;

	b.n = a.n + c.n;
	b.p = malloc(b.n);
	memcpy(b.p, a.p, a.n);
	memcpy(b.p + a.n, c.p, c.n);
	ASSERT_EQ(read_all(&b, 0, 0, &count, &st), 0);
	ASSERT_EQ(count, 8);
	ASSERT_EQ(st.segments, 2);
	/* A truncated stream followed by a whole one is caught. */
	memmove(b.p + a.n - 10, c.p, c.n);
	b.n -= 10;
	ASSERT(read_all(&b, 0, 0, &count, NULL) < 0);
	free(a.p);
	free(b.p);
	free(c.p);
}

/* Writes a frame with the given payload and correct hashes. */
static struct buf raw_frame(int type, const uint8_t *payload, size_t len)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);
	struct mli_writer *w = mli_writer_open(fd, NULL);
	struct mli_frame_header h = { MLI_FRAME_VERSION, (uint8_t)type, 0, (uint32_t)len, (uint32_t)len,
				      mli_hash(payload, len) };

	if (mli_writer_copy_frame(w, &h, payload) < 0 || mli_writer_finish(w) < 0)
		abort();
	mli_writer_free(w);
	return slurp(fd);
}

static int read_raw(int type, const void *payload, size_t len)
{
	struct buf b = raw_frame(type, payload, len);
	size_t count;
	int rc = read_all(&b, 0, 0, &count, NULL);

	free(b.p);
	return rc;
}

static void test_malformed_records_are_refused(struct tap *tap)
{
	uint8_t p[64];

	/* KEY "ab", properly padded: the well-formed baseline. */
	memset(p, 0, sizeof p);
	mli_store32(p, MLI_TAG_KEY);
	mli_store32(p + 4, 2);
	memcpy(p + 8, "ab", 2);
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 16), 0);
	/* Padding missing, or not zero. */
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 10), MLI_ERECORD);
	p[12] = 1;
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 16), MLI_ERECORD);
	p[12] = 0;
	/* Not UTF-8, or holding a NUL. */
	p[9] = (char)0xff;
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 16), MLI_ERECORD);
	p[9] = 0;
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 16), MLI_ERECORD);
	p[9] = 'b';
	/* The same tag twice. */
	memcpy(p + 16, p, 16);
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 32), MLI_ERECORD);
	/* A field longer than the payload. */
	mli_store32(p + 4, 200);
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 32), MLI_ERECORD);
	mli_store32(p + 4, 2);
	/* No KEY at all. */
	mli_store32(p, 99);
	ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, p, 16), MLI_ERECORD);
	/* An IMAGE without PIXELS. */
	mli_store32(p, MLI_TAG_KEY);
	ASSERT_EQ(read_raw(MLI_TYPE_IMAGE, p, 16), MLI_ERECORD);
	/* PIXELS whose size does not match their dims: 2x2x3 needs 12 bytes. */
	mli_store32(p + 16, MLI_TAG_PIXELS);
	mli_store32(p + 20, 16 + 11);
	memset(p + 24, 0, 40);
	p[24] = MLI_DTYPE_U8;
	p[25] = 3;
	mli_store32(p + 28, 2);
	mli_store32(p + 32, 2);
	mli_store32(p + 36, 3);
	ASSERT_EQ(read_raw(MLI_TYPE_IMAGE, p, 56), MLI_ERECORD);
	mli_store32(p + 20, 16 + 12);
	ASSERT_EQ(read_raw(MLI_TYPE_IMAGE, p, 64), 0);
	/* A label confidence that is not a number. */
	{
		uint8_t q[32] = { 0 };
		float nan = __builtin_nanf("");
		memcpy(q, p, 16);
		mli_store32(q + 16, MLI_TAG_LABELS);
		mli_store32(q + 20, 8);
		memcpy(q + 28, &nan, 4);
		ASSERT_EQ(read_raw(MLI_TYPE_ANNOTATION, q, 32), MLI_ERECORD);
	}
}

static void test_writer_refuses_bad_keys_and_shapes(struct tap *tap)
{
	int fd = memfd_create("mli-test", MFD_CLOEXEC);
	struct mli_writer *w = mli_writer_open(fd, NULL);
	static char big[MLI_KEY_MAX + 2];
	uint32_t dims[3] = { 2, 0, 3 };
	void *data;

	memset(big, 'k', sizeof big);
	ASSERT_EQ(mli_writer_begin(w, MLI_TYPE_IMAGE), 0);
	ASSERT_EQ(mli_writer_key(w, "", 0), MLI_EINVAL);
	ASSERT_EQ(mli_writer_key(w, big, MLI_KEY_MAX + 1), MLI_EINVAL);
	ASSERT_EQ(mli_writer_key(w, big, MLI_KEY_MAX), 0);
	ASSERT_EQ(mli_writer_key(w, "a\0b", 3), MLI_EINVAL);
	ASSERT_EQ(mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, &data), MLI_EINVAL);
	ASSERT_EQ(mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, 77, 1, dims, &data), MLI_EINVAL);
	dims[1] = 0x10000;
	dims[0] = 0x10000;
	ASSERT_EQ(mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, &data), MLI_ERANGE);
	mli_writer_free(w);
	close(fd);
}

static void test_writing_to_a_closed_pipe_is_epipe(struct tap *tap)
{
	int fds[2];
	struct mli_writer *w;

	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(pipe(fds), 0);
	close(fds[0]);
	w = mli_writer_open(fds[1], NULL);
	put_annotation(w, "k", 1, 1.0f);
	ASSERT_EQ(mli_writer_finish(w), MLI_EPIPE);
	ASSERT_EQ(mli_writer_flush(w), MLI_EPIPE);
	mli_writer_free(w);
	close(fds[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A producer that writes a few bytes at a time, slowly, while a timer
 * interrupts the reader's system calls: short reads and EINTR. */
static void test_short_reads_and_eintr(struct tap *tap)
{
	struct buf b = sample_stream(12);
	struct sigaction sa;
	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	int fds[2], status;
	struct mli_reader *r;
	struct mli_record rec;
	size_t count = 0;
	pid_t pid;
	int rc;

	ASSERT_EQ(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		for (size_t i = 0; i < b.n; i += 7) {
			if (mli_write_full(fds[1], b.p + i, b.n - i < 7 ? b.n - i : 7) < 0)
				_exit(1);
			usleep(100);
		}
		_exit(0);
	}
	close(fds[1]);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: reads fail with EINTR */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	r = mli_reader_open(fds[0], NULL);
	while ((rc = mli_reader_next(r, &rec)) > 0)
		count++;
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(count, 12);
	mli_reader_free(r);
	close(fds[0]);
	waitpid(pid, &status, 0);
	ASSERT_EQ(status, 0);
	free(b.p);
}

static void test_a_record_copy_outlives_its_reader(struct tap *tap)
{
	struct buf b = sample_stream(2);
	int fd = memfile(b.p, b.n);
	struct mli_reader *r = mli_reader_open(fd, NULL);
	struct mli_record_copy c = { 0 };
	struct mli_record rec;
	struct mli_tensor t;
	const char *why;

	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	ASSERT_EQ(mli_reader_next(r, &rec), 1); /* the image record */
	ASSERT_EQ(mli_record_copy(&c, &rec), 0);
	mli_reader_free(r);
	close(fd);
	memset(b.p, 0, b.n);
	ASSERT_EQ(c.rec.type, MLI_TYPE_IMAGE);
	ASSERT_MEM_EQ(c.rec.key, "http://example.org/1.jpg", 24);
	ASSERT_EQ(mli_record_tensor(&c.rec, MLI_TAG_PIXELS, &t, &why), 0);
	ASSERT_EQ(t.count, 5 * 7 * 3);
	ASSERT_EQ(((const uint8_t *)t.data)[10], (uint8_t)(10 * 7 + 1));
	ASSERT((const uint8_t *)t.data >= c.buf && (const uint8_t *)t.data < c.buf + c.cap);
	mli_record_copy_free(&c);
	free(b.p);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	RUN(test_every_record_type_round_trips);
	RUN(test_compression_is_used_only_when_it_pays);
	RUN(test_every_bit_flip_is_detected);
	RUN(test_random_damage_never_crashes_in_skip_mode);
	RUN(test_truncation_at_every_offset_is_detected);
	RUN(test_empty_input_is_truncated);
	RUN(test_an_empty_stream_is_just_an_end_frame);
	RUN(test_lying_lengths_are_caught_before_allocation);
	RUN(test_garbage_between_frames_is_skipped_and_counted);
	RUN(test_lost_and_reordered_frames_fail_the_end_frame);
	RUN(test_concatenated_streams_are_one_valid_stream);
	RUN(test_malformed_records_are_refused);
	RUN(test_writer_refuses_bad_keys_and_shapes);
	RUN(test_writing_to_a_closed_pipe_is_epipe);
	RUN(test_short_reads_and_eintr);
	RUN(test_a_record_copy_outlives_its_reader);
	return tap_done(tap);
}

/* unit-tfrecord.c: CRC32C against published check values, TFRecord
 * framing and the tf.Example codec on the release's own shards. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "example.h"
#include "mli.h"
#include "tap.h"
#include "tfrecord.h"

static int open_shard(const char *name)
{
	const char *d = getenv("MLI_DATA");
	char path[4096];

	snprintf(path, sizeof path, "%s/tfrecords/%s", d ? d : "../shared/data/tencent-ml-images", name);
	return open(path, O_RDONLY);
}

/* RFC 3720 B.4 and the usual "123456789" check value. */
static void test_crc32c_vectors(struct tap *tap)
{
	uint8_t zeros[32] = { 0 }, ones[32], inc[32];

	for (int i = 0; i < 32; i++) {
		ones[i] = 0xff;
		inc[i] = (uint8_t)i;
	}
	ASSERT_EQ(mli_crc32c(0, zeros, 32), 0x8a9136aa);
	ASSERT_EQ(mli_crc32c(0, ones, 32), 0x62a8ab43);
	ASSERT_EQ(mli_crc32c(0, inc, 32), 0x46dd794e);
	ASSERT_EQ(mli_crc32c(0, "123456789", 9), 0xe3069283);
	/* Continuing a CRC over pieces gives the CRC of the whole. */
	ASSERT_EQ(mli_crc32c(mli_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
	for (size_t n = 0; n <= 9; n++)
		ASSERT_EQ(mli_crc32c(mli_crc32c(0, "123456789", n), "123456789" + n, 9 - n), 0xe3069283);
}

static void test_shards_read(struct tap *tap)
{
	static const size_t lens[2][2] = { { 59444, 59444 }, { 140215, 59444 } };
	static const char *const names[2][2] = { { "im_2.jpeg", "im_3.jpeg" }, { "im_0.jpeg", "im_1.jpeg" } };

	for (int s = 0; s < 2; s++) {
		int fd = open_shard(s ? "1.tfrecords" : "0.tfrecords");
		struct mli_tfrecord_reader *r;
		const uint8_t *data;
		size_t len;

		ASSERT(fd >= 0);
		r = mli_tfrecord_reader_open(fd, 0, NULL, 0);
		for (int i = 0; i < 2; i++) {
			struct mli_example ex;
			const char *why;
			ASSERT_EQ(mli_tfrecord_next(r, &data, &len), 1);
			ASSERT_EQ(len, lens[s][i]);
			ASSERT_EQ(mli_example_parse(data, len, &ex, &why), 0);
			ASSERT_EQ(ex.name_len, 9);
			ASSERT_MEM_EQ(ex.name, names[s][i], 9);
			ASSERT_EQ(ex.label_len, 11166 * 4);
		}
		ASSERT_EQ(mli_tfrecord_next(r, &data, &len), 0);
		mli_tfrecord_reader_free(r);
		close(fd);
	}
}

/* The first record of 0.tfrecords has its features in the order this
 * codec writes them, so writing what was parsed gives back its bytes; the
 * others (other orders) give back the same example. */
static void test_example_round_trip(struct tap *tap)
{
	int fd = open_shard("0.tfrecords");
	struct mli_tfrecord_reader *r = mli_tfrecord_reader_open(fd, 0, NULL, 0);
	const uint8_t *data;
	size_t len;
	int first = 1;

	while (mli_tfrecord_next(r, &data, &len) == 1) {
		struct mli_example ex, back;
		const char *why;
		uint8_t *out;
		size_t n;

		ASSERT_EQ(mli_example_parse(data, len, &ex, &why), 0);
		ASSERT_EQ(ex.width, 500);
		ASSERT_EQ(ex.height, 374);
		n = mli_example_size(&ex);
		ASSERT_EQ(n, len);
		out = malloc(n);
		ASSERT_EQ(mli_example_write(&ex, out), n);
		if (first)
			ASSERT_MEM_EQ(out, data, n);
		ASSERT_EQ(mli_example_parse(out, n, &back, &why), 0);
		ASSERT_EQ(back.width, ex.width);
		ASSERT_EQ(back.image_len, ex.image_len);
		ASSERT_MEM_EQ(back.image, ex.image, ex.image_len);
		ASSERT_MEM_EQ(back.label, ex.label, ex.label_len);
		free(out);
		first = 0;
	}
	mli_tfrecord_reader_free(r);
	close(fd);
}

static void test_framing(struct tap *tap)
{
	uint8_t h[12], f[4];
	uint64_t len;

	mli_tfrecord_frame((const uint8_t *)"hello", 5, h, f);
	ASSERT_EQ(mli_tfrecord_header_parse(h, 0, &len), 0);
	ASSERT_EQ(len, 5);
	ASSERT_EQ(mli_tfrecord_footer_check((const uint8_t *)"hello", 5, f), 0);
	ASSERT_EQ(mli_tfrecord_footer_check((const uint8_t *)"hellp", 5, f), MLI_EPAYLOAD);
	ASSERT_EQ(mli_tfrecord_header_parse(h, 4, &len), MLI_ELIMIT);
	h[0] ^= 1;
	ASSERT_EQ(mli_tfrecord_header_parse(h, 0, &len), MLI_EHEADER);
}

static void test_example_faults(struct tap *tap)
{
	static const struct { const char *bytes; size_t n; } bad[] = {
		{ "\x0a\x05\x0a\x03", 4 },                  /* length past the end */
		{ "\x0a\x80", 2 },                          /* varint cut short */
		{ "\x0b", 1 },                              /* group wire type */
		{ "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12 }, /* varint over 10 bytes */
		/* width given as a bytes feature */
		{ "\x0a\x0f\x0a\x0d\x0a\x05width\x12\x04\x0a\x02\x0a\x00", 17 },
	};
	struct mli_example ex;
	const char *why;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ASSERT_EQ(mli_example_parse((const uint8_t *)bad[i].bytes, bad[i].n, &ex, &why), MLI_ERECORD);
		ASSERT(why != NULL);
	}
	ASSERT_EQ(mli_example_parse((const uint8_t *)"", 0, &ex, &why), 0);
	ASSERT(ex.image == NULL && ex.width == -1);
}

int main(void)
{
	struct tap t = { 0 }, *tap = &t;

	RUN(test_crc32c_vectors);
	RUN(test_shards_read);
	RUN(test_example_round_trip);
	RUN(test_framing);
	RUN(test_example_faults);
	return tap_done(tap);
}

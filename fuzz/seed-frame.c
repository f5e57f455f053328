/* seed-frame.c: writes the seed corpus of fuzz-frame into the directory
 * given: small valid streams of every record type, one concatenation and
 * damaged variants, so that the fuzzer starts from the format's shapes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mli.h"

static int open_seed(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void check(int rc)
{
	if (rc < 0) {
		fprintf(stderr, "seed-frame: %s\n", mli_strerror(rc));
		exit(1);
	}
}

/* One record of each type with small contents, closed by an end frame. */
static void write_all_types(int fd, int level)
{
	struct mli_writer_options o = { level };
	struct mli_writer *w = mli_writer_open(fd, &o);
	struct mli_label l[2] = { { 1, 1.0f }, { 11165, 0.8f } };
	uint32_t px[3] = { 4, 4, 3 }, in[4] = { 2, 3, 2, 2 }, tg[2] = { 2, 3 };
	uint8_t *p, bl[4 * 2 + 2 * 8];
	float *f;

	check(mli_writer_begin(w, MLI_TYPE_ANNOTATION));
	check(mli_writer_key(w, "http://farm1.staticflickr.com/1/1_a_o.jpg", 41));
	check(mli_writer_labels(w, l, 2));
	check(mli_writer_end(w));
	check(mli_writer_begin(w, MLI_TYPE_ENCODED));
	check(mli_writer_key(w, "im_0.jpg", 8));
	check(mli_writer_labels(w, l, 1));
	check(mli_writer_field(w, MLI_TAG_BLOB, "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9", 22));
	check(mli_writer_field(w, MLI_TAG_MEDIA, "image/jpeg", 10));
	check(mli_writer_field(w, MLI_TAG_SOURCE, "file:///data/im_0.jpg", 21));
	check(mli_writer_end(w));
	check(mli_writer_begin(w, MLI_TYPE_IMAGE));
	check(mli_writer_key(w, "im_1.jpg", 8));
	check(mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, px, (void **)&p));
	for (int i = 0; i < 48; i++)
		p[i] = (uint8_t)(i * 5);
	check(mli_writer_end(w));
	check(mli_writer_begin(w, MLI_TYPE_BATCH));
	check(mli_writer_key(w, "batch-0", 7));
	check(mli_writer_tensor_reserve(w, MLI_TAG_INPUT, MLI_DTYPE_U8, 4, in, (void **)&p));
	memset(p, 7, 24);
	check(mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tg, (void **)&f));
	for (int i = 0; i < 6; i++)
		f[i] = (float)(i % 2);
	check(mli_writer_field(w, MLI_TAG_KEYS, "a.jpg\0b.jpg", 12));
	mli_store32(bl, 1);
	mli_store32(bl + 4, 1);
	memcpy(bl + 8, l, sizeof l);
	check(mli_writer_field(w, MLI_TAG_BATCH_LABELS, bl, sizeof bl));
	check(mli_writer_end(w));
	check(mli_writer_finish(w));
	mli_writer_free(w);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-frame DIR\n");
		return 2;
	}
	fd = open_seed(argv[1], "all-types.mli");
	write_all_types(fd, 0);
	close(fd);
	fd = open_seed(argv[1], "all-types-raw.mli");
	write_all_types(fd, -1);
	close(fd);
	fd = open_seed(argv[1], "concatenated.mli");
	write_all_types(fd, 0);
	write_all_types(fd, 9);
	close(fd);
	fd = open_seed(argv[1], "truncated.mli");
	write_all_types(fd, 0);
	if (ftruncate(fd, lseek(fd, 0, SEEK_END) - 20) < 0)
		return 1;
	close(fd);
	return 0;
}

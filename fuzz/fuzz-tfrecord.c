/* fuzz-tfrecord.c: TFRecord framing and the tf.Example reader on arbitrary
 * bytes.
 *
 * The input is walked as a TFRecord file: each header is checked, then
 * the footer; whatever the CRCs say, every record's data (cut at the end
 * of the input) goes through the example parser from an exact-size heap
 * copy, so that a read past its length is caught by ASan (CRCs would
 * otherwise keep a fuzzer from ever reaching the parser). A parsed example
 * is written back and parsed again, and must give the same features. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "example.h"
#include "tfrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_example(const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1), *out;
	struct mli_example ex, back;
	const char *why = NULL;
	size_t len;

	if (!copy)
		abort();
	memcpy(copy, p, n);
	if (mli_example_parse(copy, n, &ex, &why) < 0) {
		if (!why)
			abort();
		free(copy);
		return;
	}
	if ((ex.image && (ex.image < copy || ex.image + ex.image_len > copy + n))
	    || (ex.label && ex.label_len % 4))
		abort();
	len = mli_example_size(&ex);
	if (!(out = malloc(len)) || mli_example_write(&ex, out) != len)
		abort();
	if (mli_example_parse(out, len, &back, &why) < 0 || back.width != ex.width
	    || back.height != ex.height || back.image_len != ex.image_len || back.name_len != ex.name_len
	    || back.label_len != ex.label_len
	    || (ex.image_len && memcmp(back.image, ex.image, ex.image_len))
	    || (ex.label_len && memcmp(back.label, ex.label, ex.label_len)))
		abort();
	free(out);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	while ((size_t)(end - p) >= MLI_TFRECORD_HEADER_SIZE) {
		uint64_t len;
		size_t avail;
		int rc = mli_tfrecord_header_parse(p, UINT64_MAX, &len);

		if (rc != 0 && rc != MLI_EHEADER)
			abort();
		avail = (size_t)(end - p) - MLI_TFRECORD_HEADER_SIZE;
		if (len > avail)
			len = avail;
		check_example(p + MLI_TFRECORD_HEADER_SIZE, (size_t)len);
		if (avail - len >= MLI_TFRECORD_FOOTER_SIZE)
			(void)mli_tfrecord_footer_check(p + MLI_TFRECORD_HEADER_SIZE, (size_t)len,
							p + MLI_TFRECORD_HEADER_SIZE + len);
		p += MLI_TFRECORD_HEADER_SIZE + len + (avail - len >= MLI_TFRECORD_FOOTER_SIZE ? MLI_TFRECORD_FOOTER_SIZE : avail - len);
		if (rc == MLI_EHEADER)
			break;
	}
	/* The whole input as one example too. */
	check_example(data, size);
	return 0;
}

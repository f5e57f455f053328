/* fuzz-frame.c: the frame reader and record parser on arbitrary bytes.
 *
 * The input is read as a stream twice, stopping at the first fault and
 * skipping bad frames, and parsed as a bare record payload of every
 * known type. Anything but a clean return is a bug. Built as a libFuzzer
 * target by `make fuzz`, and linked with replay.c for `make check`. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_stream(int fd, int skip_bad)
{
	struct mli_reader_options o = { 1u << 20, skip_bad };
	struct mli_reader *r;
	struct mli_record rec;
	struct mli_tensor t;
	const char *why;

	if (lseek(fd, 0, SEEK_SET) < 0 || !(r = mli_reader_open(fd, &o)))
		abort();
	while (mli_reader_next(r, &rec) > 0) {
		/* Touch what a consumer would: every tensor, every label. */
		for (size_t i = 0; i < rec.n_fields; i++)
			(void)mli_tensor_parse(rec.fields[i].data, rec.fields[i].size, &t, &why);
		for (size_t i = 0; i < rec.n_labels; i++)
			if (rec.labels[i].conf != rec.labels[i].conf)
				abort();
	}
	(void)mli_reader_message(r);
	mli_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	struct mli_record rec;
	const char *why;
	uint8_t *copy;

	if (fd < 0 || mli_write_full(fd, data, size) < 0)
		abort();
	read_stream(fd, 0);
	read_stream(fd, 1);
	close(fd);

	/* The payload parser expects 8-byte aligned input, as the reader
	 * gives it. */
	if (posix_memalign((void **)&copy, 64, size ? size : 1) != 0)
		abort();
	if (size)
		memcpy(copy, data, size);
	for (int type = 0; type <= MLI_TYPE_BATCH; type++)
		(void)mli_record_parse(copy, size, type, &rec, &why);
	free(copy);
	return 0;
}

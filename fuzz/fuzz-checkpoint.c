/* fuzz-checkpoint.c: the safetensors reader on arbitrary bytes.
 *
 * The input is parsed as a checkpoint; when accepted, every tensor it
 * lists is looked up and read to its end, and the metadata a resumed
 * run reads is fetched. Anything but a clean return is a bug. Built as
 * a libFuzzer target by `make fuzz`, and linked with replay.c for `make
 * check` (tests/mli-train.bats replays the corpus). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mli_ckpt *c;
	const char *why;
	volatile float sink = 0;

	int rc = mli_ckpt_parse(&c, data, size, &why);
	if (rc < 0) {
		/* Every refusal of a malformed file names its fault. */
		if (rc == MLI_EINVAL && !why)
			abort();
		return 0;
	}
	for (size_t i = 0; i < mli_ckpt_count(c); i++) {
		const void *p;
		int ndim;
		size_t dims[4], count;
		if (mli_ckpt_tensor(c, mli_ckpt_name(c, i), &p, &ndim, dims, &count) < 0)
			continue;
		for (size_t j = 0; j < count; j++) {
			float f;
			memcpy(&f, (const uint8_t *)p + 4 * j, 4);
			sink += f;
		}
	}
	(void)mli_ckpt_meta(c, "step");
	(void)mli_ckpt_meta(c, "rng_key");
	mli_ckpt_free(c);
	return 0;
}

/* fuzz-annotation.c: the annotation line parser on arbitrary bytes.
 *
 * The input is split at '\n' as mli-fetch splits its list, and each line
 * is parsed from an exact-size heap copy, so that a read past the length
 * given is caught by ASan. A parsed line must have its key inside the
 * line and finite confidences in [-1, 1]; anything else is a bug. Built as
 * a libFuzzer target by hand (see fuzz/README.md) and linked with replay.c
 * for `make check`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "annotation.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mli_label labels[MLI_ANNOTATION_LABELS_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char *line = malloc(n ? n : 1);
		struct mli_annotation a;
		const char *why = NULL;
		int rc;

		if (!line)
			abort();
		memcpy(line, p, n);
		/* A small cap as well as the real one, to reach "too many labels". */
		rc = mli_annotation_parse(line, n, labels, (n & 1) ? 4 : MLI_ANNOTATION_LABELS_MAX, &a, &why);
		if (rc == 1) {
			if (a.key != line || a.key_len == 0 || a.key_len > n)
				abort();
			for (size_t i = 0; i < a.n_labels; i++)
				if (!isfinite(a.labels[i].conf) || a.labels[i].conf < -1 || a.labels[i].conf > 1)
					abort();
		} else if (rc != 0 && (rc != MLI_EINVAL || !why)) {
			abort();
		}
		free(line);
		p += n + 1;
	}
	return 0;
}

/* fuzz-dictionary.c: the class dictionary and class map parsers on
 * arbitrary bytes. A parsed dictionary must be a forest: every class's
 * walk to its root ends within as many steps as there are classes, and
 * propagation of every class stays within the classes. */
#include <stdlib.h>
#include <string.h>

#include "dictionary.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	struct mli_dictionary *d;
	struct mli_classmap *m;
	const char *why = NULL;
	size_t line;

	if (!text)
		abort();
	memcpy(text, data, size);
	if (mli_dictionary_parse(text, size, &d, &line, &why) == 0) {
		size_t n = mli_dictionary_size(d);
		struct mli_label *out = malloc((n + 1) * sizeof *out);
		if (!out)
			abort();
		for (uint32_t c = 0; c < n && c < 4096; c++) {
			struct mli_label in = { c, 1.0f };
			int k = mli_dictionary_propagate(d, &in, 1, out, n + 1);
			if (k < 1 || (size_t)k > n || !mli_dictionary_name(d, c))
				abort();
			for (int i = 0; i < k; i++)
				if (out[i].cls >= n)
					abort();
		}
		free(out);
		mli_dictionary_free(d);
	} else if (!why) {
		abort();
	}
	why = NULL;
	if (mli_classmap_parse(text, size, &m, &line, &why) == 0) {
		struct mli_label l[3] = { { 0, 1.0f }, { 1, 0.5f }, { 7, 0.9f } };
		size_t k = mli_classmap_apply(m, l, 3);
		for (size_t i = 0; i < k; i++)
			if (l[i].cls >= mli_classmap_classes(m))
				abort();
		mli_classmap_free(m);
	} else if (!why) {
		abort();
	}
	free(text);
	return 0;
}

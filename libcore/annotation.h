/* annotation.h: one line of the original release's annotation lists.
 *
 * Both lists of the Tencent ML-Images release share one line format,
 *
 *     KEY<TAB>class:confidence<TAB>class:confidence...
 *
 * where KEY is an image URL (train_urls.txt) or a file name
 * (train_im_list.txt), class a decimal class index and confidence a
 * decimal number (the release uses 0.8 to 1; -1 means "ignore this
 * class"). The key is everything before the first TAB, so it may hold
 * spaces; labels are separated by TABs or spaces, and a line may end in
 * CR LF. A line with no TAB is a key without labels. Blank lines carry
 * nothing and are reported as such, not as errors. */
#ifndef MLI_ANNOTATION_H
#define MLI_ANNOTATION_H

#include <stddef.h>

#include "record.h"

/* More labels than classes in the release (11,166) on one line is
 * certainly not an annotation. */
#define MLI_ANNOTATION_LABELS_MAX 16384

struct mli_annotation {
	const char *key;            /* key_len bytes into the line, not NUL-terminated */
	size_t key_len;
	struct mli_label *labels;   /* n_labels pairs in the caller's array, in line order */
	size_t n_labels;
};

/* Parses one line of len bytes (without its '\n'; a final '\r' is
 * ignored) into *a, with the labels stored in labels[0..cap). Returns 1
 * for an annotation, 0 for a blank line (only spaces and TABs), or
 * MLI_EINVAL with *why naming the fault: a key that is empty, over
 * MLI_KEY_MAX bytes, or not UTF-8 without NUL; a label that is not
 * "class:confidence"; a class over UINT32_MAX - 1; a confidence that is not
 * finite or outside [-1, 1]; or more than cap labels. */
int mli_annotation_parse(const char *line, size_t len, struct mli_label *labels, size_t cap,
			 struct mli_annotation *a, const char **why);

#endif

/* annotation.c: the annotation line parser (annotation.h). It works on a
 * length-delimited line and never reads past it, so that a caller can
 * hand it a buffer that is not NUL-terminated. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "annotation.h"
#include "error.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses "class:confidence" in [p, end). */
static int parse_label(const char *p, const char *end, struct mli_label *out, const char **why)
{
	uint64_t cls = 0;
	const char *q = p;
	char num[48], *stop;
	size_t n;
	double conf;

	while (q < end && *q >= '0' && *q <= '9') {
		cls = cls * 10 + (uint64_t)(*q - '0');
		if (cls >= UINT32_MAX) {
			*why = "class index too large";
			return MLI_EINVAL;
		}
		q++;
	}
	if (q == p || q == end || *q != ':') {
		*why = "label is not class:confidence";
		return MLI_EINVAL;
	}
	q++;
	n = (size_t)(end - q);
	/* strtod needs a terminated string; a confidence longer than this
	 * buffer is not a number anyone wrote. */
	if (n == 0 || n >= sizeof num) {
		*why = "label is not class:confidence";
		return MLI_EINVAL;
	}
	memcpy(num, q, n);
	num[n] = '\0';
	if (!((num[0] >= '0' && num[0] <= '9') || num[0] == '-' || num[0] == '+' || num[0] == '.')) {
		*why = "confidence is not a number";
		return MLI_EINVAL;
	}
	conf = strtod(num, &stop);
	if (*stop != '\0') {
		*why = "confidence is not a number";
		return MLI_EINVAL;
	}
	if (!isfinite(conf) || conf < -1.0 || conf > 1.0) {
		*why = "confidence outside [-1, 1]";
		return MLI_EINVAL;
	}
	out->cls = (uint32_t)cls;
	out->conf = (float)conf;
	return 0;
}

int mli_annotation_parse(const char *line, size_t len, struct mli_label *labels, size_t cap,
			 struct mli_annotation *a, const char **why)
{
	const char *end = line + len, *tab, *p;
	size_t n = 0;

	if (len > 0 && end[-1] == '\r')
		end--;
	for (p = line; p < end && is_blank(*p); p++)
		;
	if (p == end)
		return 0;
	tab = memchr(line, '\t', (size_t)(end - line));
	a->key = line;
	a->key_len = (size_t)((tab ? tab : end) - line);
	a->labels = labels;
	a->n_labels = 0;
	if (!mli_text_valid((const uint8_t *)a->key, a->key_len, MLI_KEY_MAX)) {
		*why = a->key_len == 0 ? "empty key" : a->key_len > MLI_KEY_MAX ? "key too long"
										 : "key is not UTF-8 text";
		return MLI_EINVAL;
	}
	for (p = tab ? tab : end; p < end;) {
		const char *q;
		int rc;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		for (q = p; q < end && !is_blank(*q); q++)
			;
		if (n == cap) {
			*why = "too many labels";
			return MLI_EINVAL;
		}
		if ((rc = parse_label(p, q, &labels[n], why)) < 0)
			return rc;
		n++;
		p = q;
	}
	a->n_labels = n;
	return 1;
}

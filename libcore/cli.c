/* cli.c: checked parsing of option values. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"

int mli_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return MLI_EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return MLI_EINVAL;
	if (errno == ERANGE || v < lo || v > hi)
		return MLI_ERANGE;
	*out = v;
	return 0;
}

int mli_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return MLI_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end != '\0')
		return MLI_EINVAL;
	if (errno == ERANGE || v > (max >> shift))
		return MLI_ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int mli_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return MLI_EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || isnan(v))
		return MLI_EINVAL;
	if (errno == ERANGE || v < lo || v > hi)
		return MLI_ERANGE;
	*out = v;
	return 0;
}

int mli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return MLI_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return MLI_EINVAL;
	if (errno == ERANGE || v > max)
		return MLI_ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int mli_parse_hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s && isxdigit((unsigned char)s[i]); i++) {
		if (i == 16)
			return MLI_EINVAL;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' :
					(tolower((unsigned char)s[i]) - 'a' + 10));
	}
	if (i == 0 || s[i] != '\0')
		return MLI_EINVAL;
	*out = v;
	return 0;
}

/* The number in [s, s + n), which need not end there. */
static int parse_double_n(const char *s, size_t n, double lo, double hi, double *out)
{
	char *copy = strndup(s, n);
	int rc;

	if (!copy)
		return MLI_ENOMEM;
	rc = mli_parse_double(copy, lo, hi, out);
	free(copy);
	return rc;
}

int mli_parse_range(const char *s, double lo, double hi, double *a, double *b)
{
	const char *comma;
	double x, y;
	int rc;

	if (!s || !(comma = strchr(s, ',')))
		return MLI_EINVAL;
	if ((rc = parse_double_n(s, (size_t)(comma - s), lo, hi, &x)) < 0
	    || (rc = mli_parse_double(comma + 1, lo, hi, &y)) < 0)
		return rc;
	if (x > y)
		return MLI_ERANGE;
	*a = x;
	*b = y;
	return 0;
}

int mli_parse_long_list(const char *s, long lo, long hi, int increasing,
			long *out, size_t max, size_t *n)
{
	size_t k = 0;

	if (!s || !*s)
		return MLI_EINVAL;
	for (;;) {
		const char *comma = strchr(s, ',');
		char *item = comma ? strndup(s, (size_t)(comma - s)) : strdup(s);
		long v;
		int rc;

		if (!item)
			return MLI_ENOMEM;
		rc = mli_parse_long(item, lo, hi, &v);
		free(item);
		if (rc < 0)
			return rc;
		if (k == max || (increasing && k > 0 && v <= out[k - 1]))
			return MLI_ERANGE;
		out[k++] = v;
		if (!comma)
			break;
		s = comma + 1;
	}
	*n = k;
	return 0;
}

int mli_progress_wanted(int mode, int fd)
{
	if (mode == MLI_PROGRESS_ON)
		return 1;
	if (mode == MLI_PROGRESS_OFF)
		return 0;
	return isatty(fd);
}

/* cli.c: checked parsing of option values. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
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

int mli_progress_wanted(int mode, int fd)
{
	if (mode == MLI_PROGRESS_ON)
		return 1;
	if (mode == MLI_PROGRESS_OFF)
		return 0;
	return isatty(fd);
}

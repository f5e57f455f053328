/* fuzz-cli.c: the option value parsers of libcore/cli.c (and the failure
 * class names of --retry-class) on arbitrary text.
 *
 * The input's first byte picks the bounds; the rest, up to a NUL, is the
 * option value, parsed from an exact-size heap copy so that a read past
 * its terminator is caught by ASan. Whatever a parser accepts must obey
 * its contract: inside the bounds, only digits where only digits are
 * allowed, a list no longer than its room and in order when asked; and a
 * parser that refuses must say MLI_EINVAL or MLI_ERANGE (MLI_ENOMEM only
 * when memory runs out). Anything else is a bug. The line parser of
 * --reject-hash files gets the whole input, NULs included, without a
 * terminator; a hash it accepts must be printed back as 16 hex digits
 * found in the line. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "error.h"
#include "fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int rc)
{
	if (rc != MLI_EINVAL && rc != MLI_ERANGE && rc != MLI_ENOMEM)
		abort();
}

static int all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long lbounds[][2] = { { 0, 100 }, { -5, 5 }, { 1, 2000000000L }, { LONG_MIN, LONG_MAX } };
	static const double dbounds[][2] = { { 0, 1 }, { 0.01, 100 }, { -1e300, 1e300 }, { 0, 0.5 } };
	static const uint64_t umax[] = { 10, UINT32_MAX, (uint64_t)1 << 40, UINT64_MAX };
	long lo, hi, lv = 0, list[8];
	double dlo, dhi, dv = 0, a = 0, b = 0;
	uint64_t uv = 0, max;
	size_t n = 0, room;
	char *s;
	int rc;

	if (size == 0)
		return 0;
	lo = lbounds[data[0] & 3][0];
	hi = lbounds[data[0] & 3][1];
	dlo = dbounds[(data[0] >> 2) & 3][0];
	dhi = dbounds[(data[0] >> 2) & 3][1];
	max = umax[(data[0] >> 4) & 3];
	room = 1 + ((data[0] >> 6) & 3) * 2;
	data++;
	size--;
	if (!(s = malloc(size + 1)))
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	if ((rc = mli_parse_long(s, lo, hi, &lv)) == 0) {
		char back[32];
		long again;
		snprintf(back, sizeof back, "%ld", lv);
		if (lv < lo || lv > hi || mli_parse_long(back, lo, hi, &again) != 0 || again != lv
		    || isspace((unsigned char)*s))
			abort();
	} else {
		check_refusal(rc);
	}

	if ((rc = mli_parse_size(s, max, &uv)) == 0) {
		if (uv > max || !isdigit((unsigned char)*s))
			abort();
	} else {
		check_refusal(rc);
	}

	if ((rc = mli_parse_u64(s, max, &uv)) == 0) {
		if (uv > max || !all_digits(s))
			abort();
	} else {
		check_refusal(rc);
	}

	if ((rc = mli_parse_hex64(s, &uv)) == 0) {
		if (strlen(s) > 16 || strspn(s, "0123456789abcdefABCDEF") != strlen(s) ||
		    strtoull(s, NULL, 16) != uv)
			abort();
	} else if (rc != MLI_EINVAL) {
		abort();
	}

	if ((rc = mli_parse_double(s, dlo, dhi, &dv)) == 0) {
		if (isnan(dv) || dv < dlo || dv > dhi)
			abort();
	} else {
		check_refusal(rc);
	}

	if ((rc = mli_parse_range(s, dlo, dhi, &a, &b)) == 0) {
		if (isnan(a) || isnan(b) || a < dlo || a > b || b > dhi || !strchr(s, ','))
			abort();
	} else {
		check_refusal(rc);
	}

	for (int increasing = 0; increasing < 2; increasing++) {
		if ((rc = mli_parse_long_list(s, lo, hi, increasing, list, room, &n)) == 0) {
			size_t commas = 0;
			for (const char *p = s; *p; p++)
				commas += *p == ',';
			if (n == 0 || n > room || n != commas + 1)
				abort();
			for (size_t i = 0; i < n; i++)
				if (list[i] < lo || list[i] > hi || (increasing && i && list[i] <= list[i - 1]))
					abort();
		} else {
			check_refusal(rc);
		}
	}

	/* A --reject-hash line, from an exact-size copy without terminator. */
	{
		char *line = malloc(size ? size : 1), hex[17];
		uint64_t h = 0;
		if (!line)
			abort();
		memcpy(line, data, size);
		rc = mli_fetch_hash_line_parse(line, size, &h);
		if (rc == 1) {
			snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
			if (size < 16 || !memmem(line, size, hex, 16)) {
				/* Upper-case digits are taken too. */
				int found = 0;
				for (size_t i = 0; i + 16 <= size && !found; i++)
					found = strncasecmp(line + i, hex, 16) == 0;
				if (!found)
					abort();
			}
		} else if (rc != 0 && rc != MLI_EINVAL) {
			abort();
		}
		free(line);
	}

	/* A failure class named: its name must give it back. */
	rc = mli_fetch_class_parse(s, strlen(s));
	if (rc != -1) {
		const char *name = mli_fetch_class_name(rc);
		if (rc < 0 || rc >= MLI_FETCH_CLASSES || !name || strcmp(name, s) != 0)
			abort();
	}
	free(s);
	return 0;
}

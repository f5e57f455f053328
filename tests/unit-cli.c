/* unit-cli.c: option value parsing and the skip tally. */
#include <limits.h>

#include "mli.h"
#include "tap.h"

static void test_parse_long_checks_text_and_range(struct tap *tap)
{
	long v = 0;

	ASSERT_EQ(mli_parse_long("42", 0, 100, &v), 0);
	ASSERT_EQ(v, 42);
	ASSERT_EQ(mli_parse_long("-3", -5, 5, &v), 0);
	ASSERT_EQ(v, -3);
	ASSERT_EQ(mli_parse_long("101", 0, 100, &v), MLI_ERANGE);
	ASSERT_EQ(mli_parse_long("99999999999999999999", 0, LONG_MAX, &v), MLI_ERANGE);
	ASSERT_EQ(mli_parse_long("12x", 0, 100, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_long("", 0, 100, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_long(" 1", 0, 100, &v), MLI_EINVAL);
	ASSERT_EQ(v, -3);
}

static void test_parse_size_takes_binary_suffixes(struct tap *tap)
{
	uint64_t v = 0;

	ASSERT_EQ(mli_parse_size("256M", UINT32_MAX, &v), 0);
	ASSERT_EQ(v, 256u << 20);
	ASSERT_EQ(mli_parse_size("3k", UINT32_MAX, &v), 0);
	ASSERT_EQ(v, 3072);
	ASSERT_EQ(mli_parse_size("4G", UINT32_MAX, &v), MLI_ERANGE);
	ASSERT_EQ(mli_parse_size("1.5M", UINT32_MAX, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_size("-1", UINT32_MAX, &v), MLI_EINVAL);
}

static void test_parse_double(struct tap *tap)
{
	double d = 0;

	ASSERT_EQ(mli_parse_double("0.75", 0, 1, &d), 0);
	ASSERT(d == 0.75);
	ASSERT_EQ(mli_parse_double("1.5", 0, 1, &d), MLI_ERANGE);
	ASSERT_EQ(mli_parse_double("nan", 0, 1, &d), MLI_EINVAL);
	ASSERT_EQ(mli_parse_double("0.5x", 0, 1, &d), MLI_EINVAL);
}

static void test_tally_counts_by_reason(struct tap *tap)
{
	struct mli_tally t;
	char line[256];
	FILE *f;

	memset(&t, 0, sizeof t);
	t.in = 10;
	t.out = 7;
	mli_tally_skip(&t, "bad-frame", 2);
	mli_tally_skip(&t, "not-an-image", 1);
	ASSERT_EQ(mli_tally_skipped(&t), 3);
	f = tmpfile();
	mli_tally_print(&t, f, "mli-x", 1.25);
	rewind(f);
	ASSERT(fgets(line, sizeof line, f) != NULL);
	fclose(f);
	if (strcmp(line, "mli-x: 10 in, 7 out, 3 skipped (2 bad-frame, 1 not-an-image), 1.2 s\n") != 0)
		TAP_FAIL("summary '%s'", line);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	RUN(test_parse_long_checks_text_and_range);
	RUN(test_parse_size_takes_binary_suffixes);
	RUN(test_parse_double);
	RUN(test_tally_counts_by_reason);
	return tap_done(tap);
}

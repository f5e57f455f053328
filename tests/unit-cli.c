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

static void test_parse_u64_refuses_signs_and_spaces(struct tap *tap)
{
	uint64_t v = 0;

	ASSERT_EQ(mli_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	ASSERT(v == UINT64_MAX);
	ASSERT_EQ(mli_parse_u64("18446744073709551616", UINT64_MAX, &v), MLI_ERANGE);
	ASSERT_EQ(mli_parse_u64(" -1", UINT64_MAX, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_u64("-1", UINT64_MAX, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_u64("+1", UINT64_MAX, &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_u64("11", 10, &v), MLI_ERANGE);
	ASSERT(v == UINT64_MAX);
}

static void test_parse_hex64_takes_digits_only(struct tap *tap)
{
	uint64_t v = 0;

	ASSERT_EQ(mli_parse_hex64("00ffFF0123456789", &v), 0);
	ASSERT_EQ(v, 0x00ffff0123456789ULL);
	ASSERT_EQ(mli_parse_hex64("a", &v), 0);
	ASSERT_EQ(v, 10);
	ASSERT_EQ(mli_parse_hex64("10000000000000000", &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_hex64("", &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_hex64("0x1f", &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_hex64(" 1f", &v), MLI_EINVAL);
	ASSERT_EQ(mli_parse_hex64("1g", &v), MLI_EINVAL);
	ASSERT_EQ(v, 10);
}

static void test_parse_range_and_lists(struct tap *tap)
{
	double a = 0, b = 0;
	long l[4];
	size_t n = 0;

	ASSERT_EQ(mli_parse_range("0.08,1", 0, 1, &a, &b), 0);
	ASSERT(a == 0.08 && b == 1);
	ASSERT_EQ(mli_parse_range("0.5,0.25", 0, 1, &a, &b), MLI_ERANGE);
	ASSERT_EQ(mli_parse_range(",1", 0, 1, &a, &b), MLI_EINVAL);
	ASSERT_EQ(mli_parse_range("0,1,1", 0, 1, &a, &b), MLI_EINVAL);
	ASSERT_EQ(mli_parse_range("0.5", 0, 1, &a, &b), MLI_EINVAL);
	ASSERT_EQ(mli_parse_long_list("3,4,23,3", 1, 64, 0, l, 4, &n), 0);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(l[2], 23);
	ASSERT_EQ(mli_parse_long_list("1,2,3,4,5", 1, 64, 0, l, 4, &n), MLI_ERANGE);
	ASSERT_EQ(mli_parse_long_list("10,5", 1, 64, 1, l, 4, &n), MLI_ERANGE);
	ASSERT_EQ(mli_parse_long_list("1,,2", 1, 64, 0, l, 4, &n), MLI_EINVAL);
	ASSERT_EQ(mli_parse_long_list("1,", 1, 64, 0, l, 4, &n), MLI_EINVAL);
	ASSERT_EQ(mli_parse_long_list("", 1, 64, 0, l, 4, &n), MLI_EINVAL);
	ASSERT_EQ(n, 4);
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
	RUN(test_parse_u64_refuses_signs_and_spaces);
	RUN(test_parse_hex64_takes_digits_only);
	RUN(test_parse_range_and_lists);
	RUN(test_tally_counts_by_reason);
	return tap_done(tap);
}

/* tap.h: a tiny TAP producer for the C unit tests.
 *
 * Each test is a function; RUN(fn) runs it and prints "ok N - fn" or
 * "not ok N - fn". ASSERT_* record the first failure (with file and line)
 * and return from the test. done_testing() prints the plan. */
#ifndef MLI_TAP_H
#define MLI_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct tap {
	int n, failed;
	int current_failed;
};

#define TAP_FAIL(...)                                                         \
	do {                                                                  \
		printf("# %s:%d: ", __FILE__, __LINE__);                      \
		printf(__VA_ARGS__);                                          \
		printf("\n");                                                 \
		tap->current_failed = 1;                                      \
		return;                                                       \
	} while (0)

#define ASSERT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			TAP_FAIL("assertion failed: %s", #cond);              \
	} while (0)

#define ASSERT_EQ(a, b)                                                       \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_)                                                 \
			TAP_FAIL("%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
	} while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                \
	do {                                                                  \
		if (memcmp((a), (b), (n)) != 0)                               \
			TAP_FAIL("%s differs from %s", #a, #b);               \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		tap->current_failed = 0;                                      \
		fn(tap);                                                      \
		tap->n++;                                                     \
		printf("%sok %d - %s\n", tap->current_failed ? "not " : "", tap->n, #fn); \
		tap->failed += tap->current_failed;                           \
		fflush(stdout);                                               \
	} while (0)

static inline int tap_done(struct tap *tap)
{
	printf("1..%d\n", tap->n);
	return tap->failed ? 1 : 0;
}

#endif

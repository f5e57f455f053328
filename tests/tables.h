/* tables.h: for the unit tests of code that takes mli_kernels_select(),
 * one pass over every optimised kernel table this build and CPU can run
 * (MLI_KERNELS set to each in turn; the reference alone when there is
 * none), or a single pass over the table MLI_KERNELS names when the
 * caller set it:
 *
 *	struct tables tb = TABLES_INIT;
 *	for (size_t i = 0; i < TABLES; i++)
 *		if (tables_use(&tb, i))
 *			RUN(...);
 */
#ifndef MLI_TEST_TABLES_H
#define MLI_TEST_TABLES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define TABLES 3

struct tables {
	const char *fixed;  /* MLI_KERNELS as the caller set it, or NULL */
	int ran;            /* an optimised table has had its pass */
};

#define TABLES_INIT { getenv("MLI_KERNELS"), 0 }

/* Whether pass i runs; it selects its table through MLI_KERNELS. */
static inline int tables_use(struct tables *tb, size_t i)
{
	static const char *const name[TABLES] = { "avx512", "avx2", "ref" };

	if (tb->fixed)
		return i == 0;
	if (strcmp(name[i], "ref") == 0 && tb->ran)
		return 0;
	setenv("MLI_KERNELS", name[i], 1);
	if (!mli_kernels_select())
		return 0;
	printf("# table %s\n", name[i]);
	tb->ran = 1;
	return 1;
}

#endif

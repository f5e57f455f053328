/* unit-kernels.c: every kernel of the selected table against the
 * reference, on odd sizes, and the MLI_KERNELS override. u8_to_f32 must
 * match bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "mli.h"
#include "tap.h"

static void test_u8_to_f32_matches_the_reference(struct tap *tap)
{
	const struct mli_kernels *k = mli_kernels_select(), *ref = mli_kernels_ref();
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 31, 150528 + 5 };
	uint8_t *src = malloc(150533);
	float *a = malloc(150533 * sizeof *a), *b = malloc(150533 * sizeof *b);

	ASSERT(k != NULL);
	for (size_t i = 0; i < 150533; i++)
		src[i] = (uint8_t)(i * 131 + 7);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		k->u8_to_f32(src, a, n, 2.0f / 255.0f, -1.0f);
		ref->u8_to_f32(src, b, n, 2.0f / 255.0f, -1.0f);
		for (size_t i = 0; i < n; i++)
			if (a[i] != b[i] || a[i] < -1.0f || a[i] > 1.0f)
				TAP_FAIL("%s: n=%zu i=%zu: %.9g vs %.9g", k->name, n, i, a[i], b[i]);
	}
	ASSERT(b[0] == (float)src[0] * (2.0f / 255.0f) - 1.0f);
	free(src);
	free(a);
	free(b);
}

static void test_mli_kernels_selects_the_table(struct tap *tap)
{
	setenv("MLI_KERNELS", "ref", 1);
	ASSERT(strcmp(mli_kernels_select()->name, "ref") == 0);
	setenv("MLI_KERNELS", "no-such-isa", 1);
	ASSERT(mli_kernels_select() == NULL);
	setenv("MLI_KERNELS", "avx2", 1);
#ifdef MLI_HAVE_AVX2
	if (mli_cpu_has_avx2_fma())
		ASSERT(strcmp(mli_kernels_select()->name, "avx2") == 0);
	else
		ASSERT(mli_kernels_select() == NULL);
#else
	ASSERT(mli_kernels_select() == NULL);
#endif
	unsetenv("MLI_KERNELS");
	ASSERT(mli_kernels_select() != NULL);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	RUN(test_u8_to_f32_matches_the_reference);
	RUN(test_mli_kernels_selects_the_table);
	return tap_done(tap);
}

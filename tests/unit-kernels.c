/* unit-kernels.c: every kernel of every table this CPU runs against the
 * reference, on odd sizes, and the MLI_KERNELS override. u8_to_f32 must
 * match bit for bit; the SGEMM micro-kernels match a double-precision
 * product to rounding, in the three A layouts gemm.c passes (rows,
 * packed, transposed in place), storing and accumulating,
 * without touching C beyond the tile. (The batch-norm row kernels are
 * checked in unit-nn.c, GEMM and convolutions in unit-gemm.c and
 * unit-conv.c, each for every table.) */
#include <math.h>
#include <stdlib.h>

#include "mli.h"
#include "tap.h"

/* The tables this build and CPU run, reference first; NULL-terminated. */
static void tables(const struct mli_kernels *t[4])
{
	static const char *const names[] = { "avx2", "avx512" };
	size_t n = 0;

	t[n++] = mli_kernels_ref();
	for (size_t i = 0; i < 2; i++) {
		setenv("MLI_KERNELS", names[i], 1);
		if ((t[n] = mli_kernels_select()) != NULL)
			n++;
	}
	unsetenv("MLI_KERNELS");
	t[n] = NULL;
}

static void test_u8_to_f32_matches_the_reference(struct tap *tap)
{
	const struct mli_kernels *t[4], *ref = mli_kernels_ref();
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 150528 + 5 };
	uint8_t *src = malloc(150533);
	float *a = malloc(150533 * sizeof *a), *b = malloc(150533 * sizeof *b);

	tables(t);
	for (size_t i = 0; i < 150533; i++)
		src[i] = (uint8_t)(i * 131 + 7);
	for (size_t ti = 1; t[ti]; ti++)
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			size_t n = sizes[s];
			t[ti]->u8_to_f32(src, a, n, 2.0f / 255.0f, -1.0f);
			ref->u8_to_f32(src, b, n, 2.0f / 255.0f, -1.0f);
			for (size_t i = 0; i < n; i++)
				if (a[i] != b[i] || a[i] < -1.0f || a[i] > 1.0f)
					TAP_FAIL("%s: n=%zu i=%zu: %.9g vs %.9g", t[ti]->name, n, i, a[i],
						 b[i]);
		}
	ref->u8_to_f32(src, b, 1, 2.0f / 255.0f, -1.0f);
	ASSERT(b[0] == (float)src[0] * (2.0f / 255.0f) - 1.0f);
	free(src);
	free(a);
	free(b);
}

/* One micro-kernel call: an mr x kc strip of A, row layout (a_rs = lda,
 * a_cs = 1), packed (a_rs = 1, a_cs = mr; packed 1) or a transposed A
 * read in place (a_rs = 1, a_cs = mr + 9; packed 2, as gemm.c's
 * transposed classifier products pass it), times a packed kc x nr B,
 * stored into or added onto c (row stride ldc = nr + 3, the padding
 * columns must stay untouched). */
static int check_ukr(const struct mli_kernels *k, size_t kc, int packed, int accumulate)
{
	size_t mr = k->sgemm_mr, nr = k->sgemm_nr, lda = kc + 5, ldc = nr + 3;
	size_t acs = packed == 2 ? mr + 9 : mr;
	float *a = malloc(mr * lda * sizeof *a), *ap = malloc(acs * kc * sizeof *ap + 1);
	float *b = malloc(kc * nr * sizeof *b + 1), *c = malloc(mr * ldc * sizeof *c);
	int ok = 1;

	for (size_t i = 0; i < mr * lda; i++)
		a[i] = (float)((i * 7919) % 201) / 100.0f - 1.0f;
	for (size_t i = 0; i < acs * kc; i++)
		ap[i] = NAN;  /* the gaps of the transposed layout are never read */
	for (size_t r = 0; r < mr; r++)
		for (size_t p = 0; p < kc; p++)
			ap[p * acs + r] = a[r * lda + p];
	for (size_t i = 0; i < kc * nr; i++)
		b[i] = (float)((i * 104729) % 197) / 98.0f - 1.0f;
	for (size_t i = 0; i < mr * ldc; i++)
		c[i] = (float)(i % 13) - 6.0f;
	if (packed)
		k->sgemm_ukr(kc, ap, 1, acs, b, c, ldc, accumulate);
	else
		k->sgemm_ukr(kc, a, lda, 1, b, c, ldc, accumulate);
	for (size_t r = 0; r < mr && ok; r++)
		for (size_t q = 0; q < ldc && ok; q++) {
			double want = accumulate || q >= nr ? (double)((r * ldc + q) % 13) - 6.0 : 0.0;
			double mag = fabs(want);
			if (q < nr)
				for (size_t p = 0; p < kc; p++) {
					double t = (double)a[r * lda + p] * (double)b[p * nr + q];
					want += t;
					mag += fabs(t);
				}
			if (fabs(c[r * ldc + q] - want) > 1e-6 * (mag + 1.0)) {
				printf("# %s kc=%zu packed=%d acc=%d: c[%zu][%zu] = %.9g, want %.9g\n",
				       k->name, kc, packed, accumulate, r, q, c[r * ldc + q], want);
				ok = 0;
			}
		}
	free(a);
	free(ap);
	free(b);
	free(c);
	return ok;
}

static void test_sgemm_micro_kernels_match_double_precision(struct tap *tap)
{
	const struct mli_kernels *t[4];
	static const size_t kcs[] = { 1, 2, 3, 4, 5, 37, 256, 301 };

	tables(t);
	for (size_t ti = 0; t[ti]; ti++)
		for (size_t i = 0; i < sizeof kcs / sizeof kcs[0]; i++)
			for (int v = 0; v < 6; v++)
				if (!check_ukr(t[ti], kcs[i], v % 3, v / 3))
					TAP_FAIL("table %s", t[ti]->name);
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
	setenv("MLI_KERNELS", "avx512", 1);
#ifdef MLI_HAVE_AVX512
	if (mli_cpu_has_avx512())
		ASSERT(strcmp(mli_kernels_select()->name, "avx512") == 0);
	else
		ASSERT(mli_kernels_select() == NULL);
#else
	ASSERT(mli_kernels_select() == NULL);
#endif
	/* Unset, the best table: AVX-512 over AVX2 over the reference. */
	unsetenv("MLI_KERNELS");
	ASSERT(mli_kernels_select() != NULL);
#ifdef MLI_HAVE_AVX512
	if (mli_cpu_has_avx512())
		ASSERT(strcmp(mli_kernels_select()->name, "avx512") == 0);
#endif
	printf("# this CPU: avx2+fma %d, avx512 %d; default table %s\n", mli_cpu_has_avx2_fma(),
	       mli_cpu_has_avx512(), mli_kernels_select()->name);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	RUN(test_u8_to_f32_matches_the_reference);
	RUN(test_sgemm_micro_kernels_match_double_precision);
	RUN(test_mli_kernels_selects_the_table);
	return tap_done(tap);
}

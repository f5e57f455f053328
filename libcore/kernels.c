/* kernels.c: choosing the kernel table from the CPU and MLI_KERNELS.
 *
 * Cache blocking per table (see gemm.c for the loop nest), tuned on Zen 5
 * (48 KiB L1d, 1 MiB L2 per core, shared L3): the KC x NR strip of B
 * stays in L1 while MC / MR strips of A stream past it from L2, and the
 * KC x NC panel of B lives in L3. For the 6 x 16 tiles (AVX2 and ref) KC
 * 320 and MC 120 (a 20 KiB B strip, a 150 KiB A block). For the AVX-512
 * 14 x 32 tile KC 512 and MC 112 (a 64 KiB B strip, which L1 does not
 * hold, and a 224 KiB A block): on one core, in CPU time, KC 256..512
 * with MC 56..336 came within 5-8% of each other on the ResNet shapes
 * and on 512^3..2048^3, and KC 512 / MC 112 was best or within 2% on
 * most (fewer passes over C); KC 192 was the worst, 5-15% behind. NC
 * 1024 (a 2 MiB panel of B) gained 2-6% over 2048 on 1024^3, 2048^3 and
 * the backward-weights of 1x1 layers, and lost nothing elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "kernels_impl.h"

/* The table of instruction set isa, whose tile sizes are
 * MLI_SGEMM_<ISA>_MR/_NR, with its cache blocking. */
#define TABLE(isa, ISA, kc, mc, nc)                                      \
	{                                                                \
		.name = #isa,                                            \
		.u8_to_f32 = mli__u8_to_f32_##isa,                       \
		.sgemm_mr = MLI_SGEMM_##ISA##_MR,                        \
		.sgemm_nr = MLI_SGEMM_##ISA##_NR,                        \
		.sgemm_kc = (kc),                                        \
		.sgemm_mc = (mc),                                        \
		.sgemm_nc = (nc),                                        \
		.sgemm_ukr = mli__sgemm_ukr_##isa,                       \
		.bn_sums = mli__bn_sums_##isa,                           \
		.scale_shift = mli__scale_shift_##isa,                   \
		.bn_grad_sums = mli__bn_grad_sums_##isa,                 \
		.bn_grad_dx = mli__bn_grad_dx_##isa,                     \
		.relu = mli__relu_##isa,                                 \
		.relu_grad = mli__relu_grad_##isa,                       \
		.add = mli__add_##isa,                                   \
		.wino_in = mli__wino_in_##isa,                           \
		.wino_out = mli__wino_out_##isa,                         \
		.wino_dy = mli__wino_dy_##isa,                           \
		.wino_filter = mli__wino_filter_##isa,                   \
		.wino_filter_grad = mli__wino_filter_grad_##isa,         \
	}

static const struct mli_kernels table_ref = TABLE(ref, REF, 320, 120, 2048);
#ifdef MLI_HAVE_AVX2
static const struct mli_kernels table_avx2 = TABLE(avx2, AVX2, 320, 120, 2048);
#endif
#ifdef MLI_HAVE_AVX512
static const struct mli_kernels table_avx512 = TABLE(avx512, AVX512, 512, 112, 1024);
#endif

int mli_kernels_want_ref(void)
{
	const char *want = getenv("MLI_KERNELS");

	return want && strcmp(want, "ref") == 0;
}

const struct mli_kernels *mli_kernels_ref(void)
{
	return &table_ref;
}

const struct mli_kernels *mli_kernels_select(void)
{
	const char *want = getenv("MLI_KERNELS");
	/* The tables this build and CPU can run, best first. */
	const struct mli_kernels *ok[3];
	size_t n = 0;

#ifdef MLI_HAVE_AVX512
	if (mli_cpu_has_avx512())
		ok[n++] = &table_avx512;
#endif
#ifdef MLI_HAVE_AVX2
	if (mli_cpu_has_avx2_fma())
		ok[n++] = &table_avx2;
#endif
	ok[n++] = &table_ref;
	if (!want || !*want || strcmp(want, "auto") == 0)
		return ok[0];
	for (size_t i = 0; i < n; i++)
		if (strcmp(want, ok[i]->name) == 0)
			return ok[i];
	return NULL;
}

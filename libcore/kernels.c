/* kernels.c: choosing the kernel table from the CPU and MLI_KERNELS. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "kernels_impl.h"

static const struct mli_kernels table_ref = {
	.name = "ref",
	.u8_to_f32 = mli__u8_to_f32_ref,
	.sgemm_mr = MLI_SGEMM_REF_MR,
	.sgemm_nr = MLI_SGEMM_REF_NR,
	.sgemm_ukr = mli__sgemm_ukr_ref,
	.bn_sums = mli__bn_sums_ref,
	.scale_shift = mli__scale_shift_ref,
	.bn_grad_sums = mli__bn_grad_sums_ref,
	.bn_grad_dx = mli__bn_grad_dx_ref,
	.relu = mli__relu_ref,
	.relu_grad = mli__relu_grad_ref,
	.add = mli__add_ref,
};

#ifdef MLI_HAVE_AVX2
static const struct mli_kernels table_avx2 = {
	.name = "avx2",
	.u8_to_f32 = mli__u8_to_f32_avx2,
	.sgemm_mr = MLI_SGEMM_AVX2_MR,
	.sgemm_nr = MLI_SGEMM_AVX2_NR,
	.sgemm_ukr = mli__sgemm_ukr_avx2,
	.bn_sums = mli__bn_sums_avx2,
	.scale_shift = mli__scale_shift_avx2,
	.bn_grad_sums = mli__bn_grad_sums_avx2,
	.bn_grad_dx = mli__bn_grad_dx_avx2,
	.relu = mli__relu_avx2,
	.relu_grad = mli__relu_grad_avx2,
	.add = mli__add_avx2,
};
#endif

const struct mli_kernels *mli_kernels_ref(void)
{
	return &table_ref;
}

const struct mli_kernels *mli_kernels_select(void)
{
	const char *want = getenv("MLI_KERNELS");
	const struct mli_kernels *best = &table_ref;

#ifdef MLI_HAVE_AVX2
	if (mli_cpu_has_avx2_fma())
		best = &table_avx2;
#endif
	if (!want || !*want || strcmp(want, "auto") == 0)
		return best;
	if (strcmp(want, "ref") == 0)
		return &table_ref;
	if (strcmp(want, best->name) == 0)
		return best;
	return NULL;
}

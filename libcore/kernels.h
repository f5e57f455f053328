/* kernels.h: the table of compute kernels, chosen once per program.
 *
 * Every kernel has a portable reference version (kernels_ref.c), which the
 * tests treat as the truth, and where it pays an instruction-set version
 * (kernels_avx2.c, the only file built with -mavx2 -mfma). A program asks
 * for the table once, at start-up, and keeps the pointer. */
#ifndef MLI_KERNELS_H
#define MLI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

struct mli_kernels {
	const char *name;  /* "ref" or "avx2" */

	/* dst[i] = src[i] * scale + bias for i < n: pixels to network input
	 * (scale 2/255, bias -1 maps 0..255 to [-1, 1]). */
	void (*u8_to_f32)(const uint8_t *src, float *dst, size_t n, float scale, float bias);

	/* The SGEMM micro-kernel (gemm.c is its driver). It multiplies an
	 * mr x kc strip of A, element (r, p) at a[r * a_rs + p * a_cs] (a
	 * packed strip has a_rs 1, a_cs mr; gemm.c also passes A unpacked
	 * where that saves the copy; one of a_rs and a_cs is always 1), by
	 * a packed strip of B, b: (kc, nr),
	 * summing over k in order from zero, and
	 * stores the mr x nr tile into c (row stride ldc), or adds it to c's
	 * contents when accumulate is nonzero. Every table sums in the same
	 * order; the AVX2 one rounds once per step (FMA), the reference
	 * twice, so the two agree to rounding, not bit for bit. */
	size_t sgemm_mr, sgemm_nr;  /* at most 16 each */
	void (*sgemm_ukr)(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			  float *c, size_t ldc, int accumulate);
};

/* The best table this CPU runs, unless the environment variable
 * MLI_KERNELS names one: "ref" forces the reference kernels, "avx2" the
 * AVX2/FMA ones. Returns NULL when MLI_KERNELS names a table that is
 * unknown or that this build or CPU cannot run. */
const struct mli_kernels *mli_kernels_select(void);

/* The reference table, always available. */
const struct mli_kernels *mli_kernels_ref(void);

#endif

/* kernels.h: the table of compute kernels, chosen once per program.
 *
 * Every kernel has a portable reference version (kernels_ref.c), which the
 * tests treat as the truth, and where it pays an instruction-set version
 * (kernels_avx2.c, built with -mavx2 -mfma, and kernels_avx512.c, built
 * with the AVX-512 flags; no other file gets those flags). A program asks
 * for the table once, at start-up, and keeps the pointer. */
#ifndef MLI_KERNELS_H
#define MLI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The largest micro-tile any table uses (gemm.c sizes its edge tile by
 * these). */
#define MLI_SGEMM_MAX_MR 16
#define MLI_SGEMM_MAX_NR 64

struct mli_kernels {
	const char *name;  /* "ref", "avx2" or "avx512" */

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
	 * order; the AVX2 and AVX-512 ones round once per step (FMA), the
	 * reference twice, so those agree to rounding, not bit for bit.
	 * gemm.c splits k into blocks of sgemm_kc (each block's sum is added
	 * to C in turn), takes A in blocks of sgemm_mc rows and B in panels
	 * of sgemm_nc columns: the cache blocking that suits the tile, part
	 * of the table because the summation order over k depends on it. */
	size_t sgemm_mr, sgemm_nr;  /* at most MLI_SGEMM_MAX_MR, _NR */
	size_t sgemm_kc, sgemm_mc, sgemm_nc;  /* mc a multiple of mr, nc of nr */
	void (*sgemm_ukr)(size_t kc, const float *a, size_t a_rs, size_t a_cs, const float *b,
			  float *c, size_t ldc, int accumulate);

	/* Row-wise pieces of batch norm and friends (nn.c drives them over
	 * blocks of rows). Tensors are (rows, c), channels contiguous; each
	 * sum runs over the rows in order from zero, one channel per lane,
	 * with no fused multiply-add, so every table gives bit-identical
	 * results.
	 * bn_sums: sum[j] = sum of x[r][j]; sumsq[j] = sum of x[r][j]^2. */
	void (*bn_sums)(const float *x, size_t rows, size_t c, float *sum, float *sumsq);
	/* y = x * scale[j] + shift[j], then max(., 0) when relu (y may be x). */
	void (*scale_shift)(const float *x, float *y, size_t rows, size_t c, const float *scale,
			    const float *shift, int relu);
	/* With g = dy, or 0 where the ReLU after the norm gave 0 when scale
	 * is not NULL (where x * scale[j] + shift[j] <= 0, computed as
	 * scale_shift computes it: the mask comes from x, so the norm's
	 * output need not be read), and xh = (x - mean[j]) * inv_std[j]:
	 * sum_g[j] = sum of g; sum_gxh[j] = sum of g * xh. */
	void (*bn_grad_sums)(const float *x, const float *scale, const float *shift,
			     const float *dy, size_t rows, size_t c, const float *mean,
			     const float *inv_std, float *sum_g, float *sum_gxh);
	/* dx = (gamma[j] * inv_std[j]) * ((g - mean_g[j]) - xh * mean_gxh[j]),
	 * g and xh as above (dx may be dy). */
	void (*bn_grad_dx)(const float *x, const float *scale, const float *shift, const float *dy,
			   float *dx, size_t rows, size_t c, const float *mean,
			   const float *inv_std, const float *gamma, const float *mean_g,
			   const float *mean_gxh);
	/* y[i] = max(x[i], 0); dx[i] = y[i] > 0 ? dy[i] : 0; y[i] = a[i] + b[i]. */
	void (*relu)(const float *x, float *y, size_t n);
	void (*relu_grad)(const float *y, const float *dy, float *dx, size_t n);
	void (*add)(const float *a, const float *b, float *y, size_t n);

	/* The Winograd F(2x2, 3x3) tile transforms (winograd.c drives them;
	 * winograd_tx.h is their one source, built once per table). Tiles
	 * of a batch (n, h, w, ch) are numbered image by image, row by row,
	 * (h + 1) / 2 x (w + 1) / 2 per image; tile (ty, tx) covers input
	 * rows 2ty - 1 .. 2ty + 2 and columns 2tx - 1 .. 2tx + 2 (the pad
	 * of 1) and output pixels 2ty .. 2ty + 1, 2tx .. 2tx + 1. `zero`
	 * holds ch zeros (read for the pixels outside the image). For the
	 * tiles t0 <= t < t1, slot s = t - t0, element xi (0..15) of a
	 * transformed tile lives at buf[xi * ld + s * rs + channel].
	 * wino_in: V = B^T d B of the 4 x 4 input window of x.
	 * wino_out: y = A^T M A, the 2 x 2 output pixels inside the image.
	 * wino_dy: dM = A dY A^T of the 2 x 2 gradient pixels of dy (zero
	 * outside the image), for the weight gradient. */
	void (*wino_in)(const float *x, size_t h, size_t w, size_t ch, size_t t0, size_t t1,
			const float *zero, float *v, size_t ld, size_t rs);
	void (*wino_out)(const float *m, size_t ld, size_t rs, size_t h, size_t w, size_t ch,
			 size_t t0, size_t t1, float *y);
	void (*wino_dy)(const float *dy, size_t h, size_t w, size_t ch, size_t t0, size_t t1,
			const float *zero, float *dm, size_t ld, size_t rs);
	/* The filter transforms for the input channels c0 <= ci < c1 of an
	 * HWIO filter wt: (3, 3, c, k). wino_filter: U = G g G^T, element
	 * xi of channel pair (ci, o) to u[xi * ld + (ci - c0) * k + o].
	 * wino_filter_grad: the adjoint, dg = G^T dU G, from dU's element
	 * at du[xi * ld + ci * rs + o] into dwt. */
	void (*wino_filter)(const float *wt, size_t c, size_t k, size_t c0, size_t c1, float *u,
			    size_t ld);
	void (*wino_filter_grad)(const float *du, size_t ld, size_t rs, size_t c, size_t k,
				 size_t c0, size_t c1, float *dwt);
};

/* The best table this CPU runs, unless the environment variable
 * MLI_KERNELS names one: "ref" forces the reference kernels, "avx2" the
 * AVX2/FMA ones, "avx512" the AVX-512 ones ("auto" or empty: the best).
 * Returns NULL when MLI_KERNELS names a table that is
 * unknown or that this build or CPU cannot run. */
const struct mli_kernels *mli_kernels_select(void);

/* Whether MLI_KERNELS names the reference table: the kernels outside the
 * table (resize, augmentation) then take their portable code too. */
int mli_kernels_want_ref(void);

/* The reference table, always available. */
const struct mli_kernels *mli_kernels_ref(void);

#endif

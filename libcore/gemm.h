/* gemm.h: single-precision matrix multiply, threaded over a pool.
 *
 * C = alpha * op(A) * op(B) + beta * C, all matrices row-major:
 *   op(A) is m x k: A itself (m rows, lda >= k) or, with trans_a, the
 *         transpose of a k x m matrix A (lda >= m);
 *   op(B) is k x n: B (ldb >= n) or, with trans_b, the transpose of an
 *         n x k matrix B (ldb >= k);
 *   C is m x n (ldc >= n).
 * beta == 0 ignores C's old contents (NaNs included).
 *
 * The driver is the BLIS loop nest (Goto's algorithm): op(B) is packed
 * in KC x NC panels of NR-wide column strips; op(A) is taken in MC x KC
 * blocks of MR-high row strips, read in place by the micro-kernel when
 * that is cheaper than copying (row-major A, or transposed A with short
 * rows; gemm.c says why), packed otherwise, or made by a loader
 * (mli_sgemm_loaded: the implicit GEMM of the convolutions); the kernel
 * table's micro-kernel multiplies one MR-strip by one NR-strip into an
 * MR x NR tile of C held in registers. When m is small against n (a
 * classifier at batch 32: m 32, n 1000..11166), mli_sgemm computes C^T =
 * op(B)^T op(A)^T instead, with the tiles stored transposed: the same
 * sums in the same order, so the same bits. Threads take contiguous
 * ranges of C's rows or columns (gemm.c says which), from the shape and
 * the thread count alone; every element of C is summed in the same
 * order whatever the thread count, so results are bit-identical across
 * thread counts for a given kernel table. */
#ifndef MLI_GEMM_H
#define MLI_GEMM_H

#include <stddef.h>

#include "kernels.h"
#include "threadpool.h"

/* Returns 0, MLI_EINVAL for a NULL pool or inconsistent strides, or
 * MLI_ENOMEM when the packing buffers cannot be had. */
int mli_sgemm(const struct mli_kernels *kern, struct mli_pool *pool,
	      int trans_a, int trans_b, size_t m, size_t n, size_t k,
	      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
	      float beta, float *c, size_t ldc);

/* An op(A) that is never stored whole (a convolution's im2col matrix):
 * load() writes the block op(A)[i0 .. i0+mc, p0 .. p0+kc] into dst
 * (room for mc * (kc + 16) floats, mc <= kern->sgemm_mc and kc <=
 * kern->sgemm_kc), element (i, p) of
 * the block at dst[i * *rs + p * *cs]. It runs on the pool's threads,
 * several at once on different blocks, so it must only read shared
 * state. */
struct mli_sgemm_a_loader {
	void (*load)(void *ctx, size_t i0, size_t mc, size_t p0, size_t kc, float *dst,
		     size_t *rs, size_t *cs);
	void *ctx;
};

/* C = op(A) * op(B) + beta * C with op(A) made block by block by the
 * loader, each block once per thread that needs it (this is how the
 * convolutions do an implicit GEMM: the columns are made in L2, just
 * before use, and never travel through memory). */
int mli_sgemm_loaded(const struct mli_kernels *kern, struct mli_pool *pool,
		     const struct mli_sgemm_a_loader *load, int trans_b, size_t m, size_t n,
		     size_t k, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The pool scratch (bytes per thread) mli_sgemm needs with this table;
 * callers that share the pool's scratch reserve at least this much. */
size_t mli_sgemm_scratch_bytes(const struct mli_kernels *kern);

#endif

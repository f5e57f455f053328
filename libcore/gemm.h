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
 * The driver is the usual BLIS loop nest (Goto's algorithm): op(B) is
 * packed in KC x NC panels of NR-wide column strips, op(A) in MC x KC
 * blocks of MR-high row strips, and the kernel table's micro-kernel
 * multiplies one MR-strip by one NR-strip into an MR x NR tile of C held
 * in registers. Threads take contiguous ranges of C's rows or columns
 * (whichever dimension is larger), chosen from the shape and the thread
 * count alone; every element of C is summed in the same order whatever
 * the thread count, so results are bit-identical across thread counts
 * for a given kernel table. */
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

/* The pool scratch (bytes per thread) mli_sgemm needs with this table;
 * callers that share the pool's scratch reserve at least this much. */
size_t mli_sgemm_scratch_bytes(const struct mli_kernels *kern);

#endif

/* winograd.h: 3x3 stride-1 SAME convolutions by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin and Gray 2015), forward, backward-data
 * and backward-weights, in the layouts of conv.h (NHWC activations, HWIO
 * filters). conv.c dispatches the shapes where this measured faster
 * than its implicit GEMM (see conv.h); these entry points run it for
 * any shape they cover, so that the tests can compare it with the direct
 * convolution on every table.
 *
 * Each 2x2 block of output pixels (a tile; the last tile row or column
 * is partial on odd sizes) is computed from the 4x4 input window around
 * it as y = A^T [ (G g G^T) .* (B^T d B) ] A, summed over the input
 * channels. The sum over channels of the elementwise products is, for
 * each of the 16 elements xi of a transformed tile, a matrix product:
 *   forward:          M[xi] (tiles, k) = V[xi] (tiles, c) x U[xi] (c, k)
 *   backward-data:    the forward convolution of dy with the filter turned
 *                     by 180 degrees and its channels swapped, whose
 *                     transform is U with the rows and columns 0 and 3
 *                     of each 4 x 4 swapped (G J = P G, J the 3 x 3
 *                     reversal, P the swap of rows 0 and 3), so
 *                     dV[xi] (tiles, c) = dM[xi] (tiles, k) x U[P xi]^T.
 *                     This costs the multiplies of the adjoint
 *                     (dV = dM U^T, dx = B dV B^T) without gathering
 *                     dx from overlapping tiles.
 *   backward-weights: dU[xi] (c, k) = sum over tiles of V[xi]^T dM[xi],
 *                     dM = A dY A^T, then dg = G^T dU G.
 * so 16 matrix products (the kernel table's SGEMM micro-kernel, driven
 * here: U is packed once per call in its strip layout) replace the 36
 * multiplies per tile and channel pair by 16: 2.25 times fewer, less
 * the tiles' waste on odd sizes (7x7 takes 16 tiles for 49 pixels: 1.7
 * times fewer). The transforms (kernels.h, wino_*) are adds only,
 * vectorised over the channels.
 *
 * Threads and determinism: forward and backward-data give each thread a
 * contiguous run of tiles, which it takes through the input transform,
 * the 16 products and the output transform a chunk at a time in its own
 * scratch (one pool barrier per call: see winograd.c for why); a tile's
 * result does not depend on which thread or chunk holds it.
 * Backward-weights sums over tiles, so the order is fixed from the shape
 * alone: with few channels, 8 fixed groups of tiles each summed into
 * its own dU, the groups added in order; otherwise shared chunks whose
 * products are split over the threads by output strip, added chunk
 * after chunk. Results are bit-identical at any thread count.
 *
 * Memory (mli_winograd_ws_bytes gives the work space exactly). The work
 * space ws holds the transformed filter packed for the micro-kernel,
 * 16 c k floats (rounded up to the kernel's tile width), and for
 * backward-data also the turned filter, 9 c k floats; backward-weights
 * holds dU, 16 c k, times 8 groups when that stays within 16 MiB, or
 * else once plus a 16 MiB shared chunk of transformed tiles. For
 * ResNet-50/101 the largest is the 512-channel stage: 16 MiB forward,
 * 25 MiB backward-data, 32 MiB backward-weights (the implicit GEMM's
 * backward-data kept 9 MiB of turned filter there). The pool's
 * per-thread scratch holds a thread's chunk, about 1 MiB (at least 4
 * micro-kernel strips of tiles: 3.6 MiB at 512 channels), where
 * mli_sgemm keeps 2.5 MiB with the AVX-512 table. Nothing is allocated
 * per call once the buffers have grown to the largest layer. Measured
 * (maximum resident set, batch 32, two threads): mli-train peaked 10 MB
 * higher, 2.262 -> 2.273 GB for ResNet-50 and 3.126 -> 3.136 GB for
 * ResNet-101.
 *
 * Accuracy: F(2x2, 3x3)'s transforms have entries 0, +-1 and +-1/2, so
 * the result differs from the direct sum by a few units in the last
 * place of the terms' magnitudes (tests/unit-winograd.c derives the
 * bound it checks). */
#ifndef MLI_WINOGRAD_H
#define MLI_WINOGRAD_H

#include <stddef.h>

#include "conv.h"
#include "kernels.h"
#include "threadpool.h"

/* Whether s is a shape these functions take: a 3x3 filter, stride 1,
 * pad 1 before and the output the input's size (SAME). */
int mli_winograd_covers(const struct mli_conv_shape *s);

/* The work space (bytes) pass 0 (forward), 1 (backward-data) or 2
 * (backward-weights) needs for s with the table kern (the pool's
 * per-thread scratch comes on top; see above). */
size_t mli_winograd_ws_bytes(const struct mli_kernels *kern, const struct mli_conv_shape *s,
			     int pass);

/* As mli_conv_forward, _backward_data and _backward_weights (conv.h),
 * for the shapes mli_winograd_covers() takes (MLI_EINVAL for others);
 * ws NULL allocates per call. 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_winograd_forward(const struct mli_kernels *kern, struct mli_pool *pool,
			 struct mli_buffer *ws, const struct mli_conv_shape *s,
			 const float *x, const float *wt, float *y);
int mli_winograd_backward_data(const struct mli_kernels *kern, struct mli_pool *pool,
			       struct mli_buffer *ws, const struct mli_conv_shape *s,
			       const float *dy, const float *wt, float *dx);
int mli_winograd_backward_weights(const struct mli_kernels *kern, struct mli_pool *pool,
				  struct mli_buffer *ws, const struct mli_conv_shape *s,
				  const float *x, const float *dy, float *dwt);

#endif

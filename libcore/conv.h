/* conv.h: 2-D convolution forward and backward, NHWC activations and
 * HWIO filters (TensorFlow's layouts, so the original checkpoints map
 * one to one), without bias (every ResNet convolution is followed by
 * batch norm).
 *
 *   x:  (n, h, w, c)      input
 *   wt: (kh, kw, c, k)    filter
 *   y:  (n, oh, ow, k)    output
 *   y[b, i, j, o] = sum over (u, v, ci) of
 *       x[b, i*stride + u - pad_top, j*stride + v - pad_left, ci] * wt[u, v, ci, o]
 * with x taken as zero outside the image.
 *
 * Padding is explicit: pad_top/pad_left zeros before, and as many after
 * as the output size asks for. mli_conv_shape_init() sets up the
 * original model's convention (TensorFlow's conv2d_fixed_padding): pad
 * (k - 1) / 2 before and the rest after, then a VALID convolution; for
 * stride 1 that is SAME; for stride 2 it differs from TensorFlow's SAME
 * on even sizes (SAME would pad 0 before and 1 after a 3x3 on 56x56).
 *
 * Method, chosen per shape by measurement on Zen 5 (bench/kernels;
 * figures in bench/RESULTS.md):
 *   - 3x3 stride 1 (SAME) with at least 64 channels on each side and
 *     n*h*w*c*k >= 2^26, all three passes: Winograd F(2x2, 3x3)
 *     (winograd.h), 2.25 times fewer multiplies. Against the implicit
 *     GEMM below, two threads, batch 32, medians of 9 on a loaded
 *     machine (bench/winograd-run, CPU and wall time alike): forward
 *     1.6x, 1.55-2.05x, 2.0-2.15x and 1.2-1.3x on ResNet's 64@56,
 *     128@28, 256@14 and 512@7 (least at 7x7, where 16 tiles cover 49
 *     pixels), backward-data about the same, backward-weights
 *     1.2-1.55x; with the AVX2 table 1.3-2.0x. Narrower or
 *     smaller layers (the tests' small networks: 32@28, 64@14) came out
 *     0.75-1.0x and stay below; 16@56 won 1.2-1.4x but is under the
 *     channel floor, which keeps the rule one of shape class. The
 *     reference table never takes it: it is the tests' oracle.
 *     The environment variable MLI_WINOGRAD set to "on" sends every
 *     3x3 stride-1 layer to it, "off" none (the direct products, as
 *     the reference computes them); any other value, the rule above.
 *   - 1x1 stride 1: the activations are already the GEMM operand:
 *     forward (n*h*w, c) x (c, k); backward-data dy x wt^T;
 *     backward-weights x^T dy. Plain mli_sgemm, A read in place.
 *   - everything else, forward and backward-weights: implicit GEMM. The
 *     im2col matrix (rows of kh*kw*c per output pixel; in NHWC each row
 *     is a few memcpys of c channels, or of kw*c when the window row is
 *     inside the image) is made block by block by the GEMM's threads,
 *     in L2, just before the micro-kernel reads it, and never stored
 *     whole (it would be 9x the input for a 3x3, 49x for the stem).
 *     Against explicit im2col + GEMM a chunk of images at a time
 *     (measured, one and two threads): forward the same within a few
 *     per cent on the 3x3 layers and 1.25-1.3x faster on the stem;
 *     backward-weights 1.05-1.5x faster; and no column buffer.
 *   - backward-data: decomposed by phases (sub-pixel convolution): at
 *     stride s the input pixels (s*jy + py, s*jx + px) take exactly the
 *     kernel taps u = (py + pad_top) mod s + s*t, which makes each phase
 *     a stride-1 forward convolution of dy with those taps turned by
 *     180 degrees and the channels swapped. One phase at stride 1, four
 *     at stride 2 (for a 1x1 three of them get zeros). With fewer than
 *     16 input channels (the stem's 3) the phases' GEMMs would be mostly
 *     empty micro-tiles, so those take GEMM (dy x wt^T) + a col2im that
 *     gathers: each row of dx, on one thread, sums in a fixed order the
 *     window rows of the column matrix that land on it, kw * c
 *     contiguous floats each (no scatter between threads, no races).
 *     Done pixel by pixel with kh * kw index tests each, the col2im took
 *     most of the stem's time: 60 GF/s, 0.56x OpenBLAS's GEMM alone; by
 *     runs, 110-150 GF/s, 1.1-1.9x (two threads, CPU time, a loaded
 *     machine; bench/kernels LAYER=stem). The stem's
 *     backward-data is not needed for training anyway (nothing learns
 *     from the image).
 * Every path splits work by output rows or columns only, never by the
 * summed dimension, so results are bit-identical at any thread count. */
#ifndef MLI_CONV_H
#define MLI_CONV_H

#include <stddef.h>

#include "kernels.h"
#include "threadpool.h"

struct mli_conv_shape {
	size_t n, h, w, c;          /* input (n, h, w, c) */
	size_t kh, kw, k;           /* filter (kh, kw, c, k) */
	size_t stride;
	size_t pad_top, pad_left;   /* zeros before the image */
	size_t oh, ow;              /* output (n, oh, ow, k) */
};

/* A growable work buffer a caller keeps across calls (zero-initialise
 * it; free it with mli_buffer_free). */
struct mli_buffer {
	void *p;
	size_t bytes;
};

/* Grows b to at least `bytes` (64-byte aligned). 0 or MLI_ENOMEM. */
int mli_buffer_reserve(struct mli_buffer *b, size_t bytes);
void mli_buffer_free(struct mli_buffer *b);

/* Fills s for the original model's padding (see above): oh = (h - 1) /
 * stride + 1, likewise ow. Returns MLI_EINVAL for a zero size or
 * stride, or an even kernel size. */
int mli_conv_shape_init(struct mli_conv_shape *s, size_t n, size_t h, size_t w, size_t c,
			size_t kh, size_t kw, size_t k, size_t stride);

/* Checks that s is consistent (every output position reads at least one
 * row and column inside the padded image). 0 or MLI_EINVAL. */
int mli_conv_shape_check(const struct mli_conv_shape *s);

/* y = conv(x, wt). ws is work space kept by the caller across calls
 * (backward-data uses it; forward and backward-weights need none today);
 * NULL allocates per call. Returns 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_conv_forward(const struct mli_kernels *kern, struct mli_pool *pool,
		     struct mli_buffer *ws, const struct mli_conv_shape *s,
		     const float *x, const float *wt, float *y);

/* dx = dL/dx given dy = dL/dy (dx is overwritten). */
int mli_conv_backward_data(const struct mli_kernels *kern, struct mli_pool *pool,
			   struct mli_buffer *ws, const struct mli_conv_shape *s,
			   const float *dy, const float *wt, float *dx);

/* dwt = dL/dwt given x and dy (dwt is overwritten). */
int mli_conv_backward_weights(const struct mli_kernels *kern, struct mli_pool *pool,
			      struct mli_buffer *ws, const struct mli_conv_shape *s,
			      const float *x, const float *dy, float *dwt);

#endif

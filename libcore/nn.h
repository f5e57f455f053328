/* nn.h: the ResNet's layers other than convolution, on NHWC tensors seen
 * as (rows, c) with rows = n*h*w and channels contiguous.
 *
 * These are memory-bound (a few flops per byte). The row-wise work of
 * batch norm, ReLU and add is in the kernel table (AVX2 and reference
 * versions, bit-identical to each other), threaded over rows here.
 * Reductions over rows (batch-norm statistics and gradients) sum fixed
 * blocks of 64 rows in float, then add the blocks in double in order:
 * the result depends on neither the thread count nor the table. The
 * rest (pooling, the losses, the bias sums) is plain C: it touches a
 * few thousand values per batch. pool may be NULL (one thread). */
#ifndef MLI_NN_H
#define MLI_NN_H

#include <stddef.h>

#include "conv.h"
#include "kernels.h"
#include "threadpool.h"

/* Batch norm, training. Per channel j: mean[j] and var[j] (biased) over
 * the rows of x; xhat = (x - mean) / sqrt(var + eps);
 * y = gamma * xhat + beta, then max(y, 0) when relu is nonzero (the
 * pre-activation ResNet always follows batch norm with ReLU). Saves
 * mean (c) and inv_std (c) = 1 / sqrt(var + eps) for the backward pass.
 * When running_mean/running_var are not NULL they are updated as
 * r = decay * r + (1 - decay) * batch, with the variance corrected by
 * rows / (rows - 1) as TensorFlow's fused batch norm does.
 *   x, y: (rows, c) (may be the same array); gamma, beta: (c).
 * ws is work space the caller keeps across calls (about rows * c / 8 +
 * 24 * c bytes; it grows on the first calls only), or NULL to allocate
 * per call; the three batch-norm calls may share one.
 * Returns 0, MLI_EINVAL (rows < 2) or MLI_ENOMEM. */
int mli_bn_forward_train(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			 size_t c, const float *x, const float *gamma, const float *beta, float eps,
			 int relu, float *y, float *mean, float *inv_std, float *running_mean,
			 float *running_var, float decay, struct mli_buffer *ws);

/* The same after x += res (x updated in place, then normalised): the
 * residual sum that ends a ResNet block, made inside the pass that sums
 * the next batch norm's statistics instead of in a pass of its own. */
int mli_bn_forward_train_residual(const struct mli_kernels *kern, struct mli_pool *pool,
				  size_t rows, size_t c, float *x, const float *res,
				  const float *gamma, const float *beta, float eps, int relu, float *y,
				  float *mean, float *inv_std, float *running_mean,
				  float *running_var, float decay, struct mli_buffer *ws);

/* Batch norm, inference: y = gamma * (x - mean) / sqrt(var + eps) + beta
 * with the running statistics, then ReLU when relu is nonzero. Returns 0
 * or MLI_ENOMEM. */
int mli_bn_forward_infer(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			 size_t c, const float *x, const float *gamma, const float *beta,
			 const float *mean, const float *var, float eps, int relu, float *y,
			 struct mli_buffer *ws);

/* y = relu(bn(x)) again (relu nonzero) or bn(x), from the statistics a
 * training forward pass saved (mean, inv_std): the output that pass
 * gave, up to the rounding of the saved inv_std. The backward pass of a
 * network that keeps only x remakes it for the next layer's weight
 * gradient. Returns 0 or MLI_ENOMEM. */
int mli_bn_remake(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows, size_t c,
		  const float *x, const float *gamma, const float *beta, const float *mean,
		  const float *inv_std, int relu, float *y, struct mli_buffer *ws);

/* Batch norm backward (training statistics). Given x, the saved mean and
 * inv_std, and dy = dL/dy; when relu is nonzero, dy is taken as zero
 * where the ReLU gave zero, which is told from x (where mli_bn_remake's
 * output is zero: the output itself is not read). Writes dx (rows, c)
 * (may alias dy), dgamma (c), dbeta (c). Returns 0 or MLI_ENOMEM. */
int mli_bn_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows, size_t c,
		    const float *x, const float *dy, const float *gamma, const float *beta,
		    const float *mean, const float *inv_std, int relu, float *dx, float *dgamma,
		    float *dbeta, struct mli_buffer *ws);

/* The same with dx = (that dx) + res: the gradient of a block input that
 * also feeds the shortcut, summed while each block of dx is in cache.
 * res may not alias dx. */
int mli_bn_backward_residual(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			     size_t c, const float *x, const float *dy, const float *gamma,
			     const float *beta, const float *mean, const float *inv_std, int relu,
			     const float *res, float *dx, float *dgamma, float *dbeta,
			     struct mli_buffer *ws);

/* y[i] = max(x[i], 0); y may be x. */
void mli_relu_forward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n,
		      const float *x, float *y);

/* dx[i] = y[i] > 0 ? dy[i] : 0, y the forward output; dx may be dy. */
void mli_relu_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n,
		       const float *y, const float *dy, float *dx);

/* The residual sum y[i] = a[i] + b[i]; y may be a or b. (Its backward
 * hands dy to both branches unchanged.) */
void mli_add(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, const float *a,
	     const float *b, float *y);

/* Global average pooling: y[b, j] = mean over p of x[b, p, j].
 *   x: (n, hw, c); y: (n, c). */
void mli_avgpool_forward(struct mli_pool *pool, size_t n, size_t hw, size_t c, const float *x,
			 float *y);

/* dx[b, p, j] = dy[b, j] / hw.  dy: (n, c); dx: (n, hw, c). */
void mli_avgpool_backward(struct mli_pool *pool, size_t n, size_t hw, size_t c,
			  const float *dy, float *dx);

/* Fully connected: y = x w + bias.
 *   x: (n, in); w: (in, out); bias: (out) or NULL; y: (n, out). */
int mli_fc_forward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, size_t in,
		   size_t out, const float *x, const float *w, const float *bias, float *y);

/* Fully connected backward: dx = dy w^T (dx may be NULL to skip),
 * dw = x^T dy, dbias = column sums of dy (NULL to skip); all overwritten.
 *   dy: (n, out); dx: (n, in); dw: (in, out); dbias: (out). */
int mli_fc_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, size_t in,
		    size_t out, const float *x, const float *w, const float *dy, float *dx,
		    float *dw, float *dbias);

/* Weighted sigmoid cross-entropy on logits, the original multi-label
 * loss's core (TensorFlow's weighted_cross_entropy_with_logits):
 *   l = weight * ((1 - t) z + (1 + (pos_weight - 1) t) log(1 + e^-z))
 * computed stably, for each of n elements; t is the target in [0, 1];
 * weight (n) may be NULL for all ones (a zero weight drops an element,
 * which is how labels of -1 and unselected negatives are ignored).
 * Writes dz = scale * dl/dz (dz may be NULL) and returns
 * scale * sum of l, summed in double in index order. */
double mli_sigmoid_xent(size_t n, const float *z, const float *t, const float *weight,
			float pos_weight, float scale, float *dz);

/* Softmax cross-entropy with one class per row, for fine-tuning on
 * single-label data: for each of n rows of k logits,
 *   l = log(sum_j e^z_j) - z_label
 * and dz = scale * (softmax(z) - onehot(label)); a label outside
 * [0, k) marks a row to ignore (l = 0, dz = 0). Returns scale * sum l.
 *   z, dz: (n, k); labels: (n). dz may alias z or be NULL. */
double mli_softmax_xent(size_t n, size_t k, const float *z, const int *labels, float scale,
			float *dz);

#endif

/* nn.c: batch norm, ReLU, residual add, global average pooling, fully
 * connected and the losses (see nn.h for the contracts). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gemm.h"
#include "nn.h"

/* Rows per reduction block: the unit of the fixed summation order.
 * Within a block a channel is summed in float (64 terms), the blocks'
 * sums in double, in block order. */
#define BLOCK_ROWS 64

/* One pass over rows (or over blocks of rows), split over the pool. */
struct pass {
	const struct mli_kernels *kern;
	size_t rows, c;
	const float *x, *y, *dy, *gamma, *mean, *inv_std, *scale, *shift, *mean_g, *mean_gxh;
	float *out;
	const float *res;   /* residual added into x (forward) or dx (backward), or NULL */
	float *part;        /* (nblocks, 2, c) per-block sums */
	int relu;
	void (*body)(const struct pass *p, size_t b, size_t e);  /* rows or blocks [b, e) */
	size_t count, grain;
};

static void pass_task(void *arg, int i, int n)
{
	const struct pass *p = arg;
	size_t b, e;

	mli_pool_split(p->count, p->grain, i, n, &b, &e);
	if (b < e)
		p->body(p, b, e);
}

static void run(struct mli_pool *pool, struct pass *p, size_t count, size_t grain)
{
	p->count = count;
	p->grain = grain;
	mli_pool_run(pool, pass_task, p);
}

static size_t block_end(const struct pass *p, size_t blk)
{
	return (blk + 1) * BLOCK_ROWS < p->rows ? (blk + 1) * BLOCK_ROWS : p->rows;
}

/* With a residual, each block of x takes its sum first (x is then the
 * caller's writable array, p->out): the block is summed while it is
 * still in cache, which saves a pass of its own over the tensor. */
static void bn_stats_body(const struct pass *p, size_t b, size_t e)
{
	for (size_t blk = b; blk < e; blk++) {
		float *s = p->part + blk * 2 * p->c;
		size_t r0 = blk * BLOCK_ROWS, n = (block_end(p, blk) - r0) * p->c;
		if (p->res)
			p->kern->add(p->out + r0 * p->c, p->res + r0 * p->c, p->out + r0 * p->c, n);
		p->kern->bn_sums(p->x + r0 * p->c, block_end(p, blk) - r0, p->c, s, s + p->c);
	}
}

static void scale_shift_body(const struct pass *p, size_t b, size_t e)
{
	p->kern->scale_shift(p->x + b * p->c, p->out + b * p->c, e - b, p->c, p->scale, p->shift,
			     p->relu);
}

/* Adds the blocks in order: sum[j] (and sum[c + j]) over all blocks. */
static void reduce_blocks(const float *part, size_t nblocks, size_t c, double *sum)
{
	memset(sum, 0, 2 * c * sizeof *sum);
	for (size_t blk = 0; blk < nblocks; blk++)
		for (size_t j = 0; j < 2 * c; j++)
			sum[j] += part[blk * 2 * c + j];
}

/* Points *p at `bytes` of work space from ws, or from own (which the
 * caller frees) when ws is NULL. */
static int work_space(struct mli_buffer *ws, struct mli_buffer *own, size_t bytes, void **p)
{
	struct mli_buffer *b = ws ? ws : own;
	int rc = mli_buffer_reserve(b, bytes);

	*p = b->p;
	return rc;
}

/* The work space of the training calls: sum (2c doubles) first, then
 * part (nblocks, 2, c) and four c-float arrays. */
static size_t bn_ws_bytes(size_t nblocks, size_t c)
{
	return 2 * c * sizeof(double) + (nblocks + 3) * 2 * c * sizeof(float);
}

/* Rows per share of an elementwise pass: whole multiples of a block, so
 * that tiny tensors stay on one thread. */
#define GRAIN_ROWS 16

int mli_bn_forward_train_residual(const struct mli_kernels *kern, struct mli_pool *pool,
				  size_t rows, size_t c, float *x, const float *res,
				  const float *gamma, const float *beta, float eps, int relu, float *y,
				  float *mean, float *inv_std, float *running_mean,
				  float *running_var, float decay, struct mli_buffer *ws)
{
	size_t nblocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
	struct mli_buffer own = { 0 };
	float *part, *scale;
	double *sum;
	void *w;
	struct pass p = { .kern = kern, .rows = rows, .c = c, .x = x, .out = x, .res = res };
	int rc;

	if (rows < 2)
		return MLI_EINVAL;
	if ((rc = work_space(ws, &own, bn_ws_bytes(nblocks, c), &w)) < 0)
		goto fail;
	sum = w;
	part = (float *)(sum + 2 * c);
	scale = part + nblocks * 2 * c;
	p.part = part;
	p.body = bn_stats_body;
	run(pool, &p, nblocks, 1);
	reduce_blocks(part, nblocks, c, sum);
	for (size_t j = 0; j < c; j++) {
		double m = sum[j] / (double)rows, v = sum[c + j] / (double)rows - m * m;
		double is;
		if (v < 0)
			v = 0;
		is = 1.0 / sqrt(v + (double)eps);
		mean[j] = (float)m;
		inv_std[j] = (float)is;
		scale[j] = (float)(gamma[j] * is);
		scale[c + j] = (float)(beta[j] - m * gamma[j] * is);
		if (running_mean)
			running_mean[j] = decay * running_mean[j] + (1.0f - decay) * (float)m;
		if (running_var)
			running_var[j] = decay * running_var[j] +
				(1.0f - decay) * (float)(v * (double)rows / (double)(rows - 1));
	}
	p = (struct pass){ .kern = kern, .rows = rows, .c = c, .x = x, .out = y, .scale = scale,
			   .shift = scale + c, .relu = relu, .body = scale_shift_body };
	run(pool, &p, rows, GRAIN_ROWS);
	rc = 0;
fail:
	mli_buffer_free(&own);
	return rc;
}

int mli_bn_forward_train(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			 size_t c, const float *x, const float *gamma, const float *beta, float eps,
			 int relu, float *y, float *mean, float *inv_std, float *running_mean,
			 float *running_var, float decay, struct mli_buffer *ws)
{
	/* x is only read when there is no residual. */
	return mli_bn_forward_train_residual(kern, pool, rows, c, (float *)x, NULL, gamma, beta,
					     eps, relu, y, mean, inv_std, running_mean,
					     running_var, decay, ws);
}

/* The scale and shift of the norm from the statistics a training forward
 * pass saved: those of its output, up to the rounding of the saved
 * inverse standard deviation. */
static void saved_scale_shift(size_t c, const float *gamma, const float *beta, const float *mean,
			      const float *inv_std, float *scale, float *shift)
{
	for (size_t j = 0; j < c; j++) {
		double is = inv_std[j];
		scale[j] = (float)(gamma[j] * is);
		shift[j] = (float)(beta[j] - mean[j] * gamma[j] * is);
	}
}

/* y = x * scale + shift per channel (then ReLU), scale and shift from
 * the running statistics (var, eps) or, when inv_std is not NULL, from
 * those a training pass saved. */
static int apply_norm(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
		      size_t c, const float *x, const float *gamma, const float *beta,
		      const float *mean, const float *var, float eps, const float *inv_std,
		      int relu, float *y, struct mli_buffer *ws)
{
	struct mli_buffer own = { 0 };
	float *scale;
	void *w;
	struct pass p = { .kern = kern, .rows = rows, .c = c, .x = x, .out = y, .relu = relu,
			  .body = scale_shift_body };

	if (work_space(ws, &own, 2 * c * sizeof *scale, &w) < 0)
		return MLI_ENOMEM;
	scale = w;
	if (inv_std)
		saved_scale_shift(c, gamma, beta, mean, inv_std, scale, scale + c);
	else
		for (size_t j = 0; j < c; j++) {
			double is = 1.0 / sqrt((double)var[j] + (double)eps);
			scale[j] = (float)(gamma[j] * is);
			scale[c + j] = (float)(beta[j] - mean[j] * gamma[j] * is);
		}
	p.scale = scale;
	p.shift = scale + c;
	run(pool, &p, rows, GRAIN_ROWS);
	mli_buffer_free(&own);
	return 0;
}

int mli_bn_forward_infer(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			 size_t c, const float *x, const float *gamma, const float *beta,
			 const float *mean, const float *var, float eps, int relu, float *y,
			 struct mli_buffer *ws)
{
	return apply_norm(kern, pool, rows, c, x, gamma, beta, mean, var, eps, NULL, relu, y, ws);
}

static void bn_grad_stats_body(const struct pass *p, size_t b, size_t e)
{
	for (size_t blk = b; blk < e; blk++) {
		float *s = p->part + blk * 2 * p->c;
		size_t r0 = blk * BLOCK_ROWS, off = r0 * p->c;
		p->kern->bn_grad_sums(p->x + off, p->scale, p->shift, p->dy + off,
				      block_end(p, blk) - r0, p->c, p->mean, p->inv_std, s, s + p->c);
	}
}

/* With a residual, dx takes it block by block while the block just
 * written is still in cache. */
static void bn_dx_body(const struct pass *p, size_t b, size_t e)
{
	size_t step = p->res ? BLOCK_ROWS : e - b;

	for (size_t r = b; r < e; r += step) {
		size_t off = r * p->c, n = (r + step < e ? step : e - r);
		p->kern->bn_grad_dx(p->x + off, p->scale, p->shift, p->dy + off, p->out + off, n,
				    p->c, p->mean, p->inv_std, p->gamma, p->mean_g, p->mean_gxh);
		if (p->res)
			p->kern->add(p->out + off, p->res + off, p->out + off, n * p->c);
	}
}

int mli_bn_remake(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows, size_t c,
		  const float *x, const float *gamma, const float *beta, const float *mean,
		  const float *inv_std, int relu, float *y, struct mli_buffer *ws)
{
	return apply_norm(kern, pool, rows, c, x, gamma, beta, mean, NULL, 0, inv_std, relu, y, ws);
}

int mli_bn_backward_residual(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows,
			     size_t c, const float *x, const float *dy, const float *gamma,
			     const float *beta, const float *mean, const float *inv_std, int relu,
			     const float *res, float *dx, float *dgamma, float *dbeta,
			     struct mli_buffer *ws)
{
	size_t nblocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
	struct mli_buffer own = { 0 };
	float *part, *means;
	double *sum;
	void *w;
	struct pass p = { .kern = kern, .rows = rows, .c = c, .x = x, .dy = dy,
			  .mean = mean, .inv_std = inv_std, .body = bn_grad_stats_body };
	int rc;

	if ((rc = work_space(ws, &own, bn_ws_bytes(nblocks, c), &w)) < 0)
		goto fail;
	sum = w;
	part = (float *)(sum + 2 * c);
	means = part + nblocks * 2 * c;
	if (relu) {
		/* The ReLU's mask, from x: the output is not read. */
		float *scale = means + 2 * c;
		saved_scale_shift(c, gamma, beta, mean, inv_std, scale, scale + c);
		p.scale = scale;
		p.shift = scale + c;
	}
	p.part = part;
	run(pool, &p, nblocks, 1);
	reduce_blocks(part, nblocks, c, sum);
	for (size_t j = 0; j < c; j++) {
		dbeta[j] = (float)sum[j];
		dgamma[j] = (float)sum[c + j];
		means[j] = (float)(sum[j] / (double)rows);
		means[c + j] = (float)(sum[c + j] / (double)rows);
	}
	p.body = bn_dx_body;
	p.gamma = gamma;
	p.mean_g = means;
	p.mean_gxh = means + c;
	p.out = dx;
	p.res = res;
	run(pool, &p, rows, GRAIN_ROWS);
	rc = 0;
fail:
	mli_buffer_free(&own);
	return rc;
}

int mli_bn_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t rows, size_t c,
		    const float *x, const float *dy, const float *gamma, const float *beta,
		    const float *mean, const float *inv_std, int relu, float *dx, float *dgamma,
		    float *dbeta, struct mli_buffer *ws)
{
	return mli_bn_backward_residual(kern, pool, rows, c, x, dy, gamma, beta, mean, inv_std,
					relu, NULL, dx, dgamma, dbeta, ws);
}

static void relu_body(const struct pass *p, size_t b, size_t e)
{
	p->kern->relu(p->x + b, p->out + b, e - b);
}

void mli_relu_forward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n,
		      const float *x, float *y)
{
	struct pass p = { .kern = kern, .x = x, .out = y, .body = relu_body };
	run(pool, &p, n, 4096);
}

static void relu_back_body(const struct pass *p, size_t b, size_t e)
{
	p->kern->relu_grad(p->y + b, p->dy + b, p->out + b, e - b);
}

void mli_relu_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n,
		       const float *y, const float *dy, float *dx)
{
	struct pass p = { .kern = kern, .y = y, .dy = dy, .out = dx, .body = relu_back_body };
	run(pool, &p, n, 4096);
}

static void add_body(const struct pass *p, size_t b, size_t e)
{
	p->kern->add(p->x + b, p->y + b, p->out + b, e - b);
}

void mli_add(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, const float *a,
	     const float *b, float *y)
{
	struct pass p = { .kern = kern, .x = a, .y = b, .out = y, .body = add_body };
	run(pool, &p, n, 4096);
}

/* Images [b, e): rows is hw. */
static void avgpool_body(const struct pass *p, size_t b, size_t e)
{
	for (size_t img = b; img < e; img++) {
		float *o = p->out + img * p->c;
		for (size_t j = 0; j < p->c; j++) {
			double s = 0;
			for (size_t q = 0; q < p->rows; q++)
				s += p->x[(img * p->rows + q) * p->c + j];
			o[j] = (float)(s / (double)p->rows);
		}
	}
}

void mli_avgpool_forward(struct mli_pool *pool, size_t n, size_t hw, size_t c, const float *x,
			 float *y)
{
	struct pass p = { .rows = hw, .c = c, .x = x, .out = y, .body = avgpool_body };
	run(pool, &p, n, 1);
}

static void avgpool_back_body(const struct pass *p, size_t b, size_t e)
{
	float inv = 1.0f / (float)p->rows;

	for (size_t img = b; img < e; img++)
		for (size_t q = 0; q < p->rows; q++)
			for (size_t j = 0; j < p->c; j++)
				p->out[(img * p->rows + q) * p->c + j] = p->dy[img * p->c + j] * inv;
}

void mli_avgpool_backward(struct mli_pool *pool, size_t n, size_t hw, size_t c,
			  const float *dy, float *dx)
{
	struct pass p = { .rows = hw, .c = c, .dy = dy, .out = dx, .body = avgpool_back_body };
	run(pool, &p, n, 1);
}

int mli_fc_forward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, size_t in,
		   size_t out, const float *x, const float *w, const float *bias, float *y)
{
	if (bias)
		for (size_t i = 0; i < n; i++)
			memcpy(y + i * out, bias, out * sizeof *y);
	return mli_sgemm(kern, pool, 0, 0, n, out, in, 1.0f, x, in, w, out, bias ? 1.0f : 0.0f,
			 y, out);
}

int mli_fc_backward(const struct mli_kernels *kern, struct mli_pool *pool, size_t n, size_t in,
		    size_t out, const float *x, const float *w, const float *dy, float *dx,
		    float *dw, float *dbias)
{
	int rc;

	if (dx && (rc = mli_sgemm(kern, pool, 0, 1, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx,
				  in)) < 0)
		return rc;
	if ((rc = mli_sgemm(kern, pool, 1, 0, in, out, n, 1.0f, x, in, dy, out, 0.0f, dw, out)) < 0)
		return rc;
	if (dbias)
		for (size_t j = 0; j < out; j++) {
			double s = 0;
			for (size_t i = 0; i < n; i++)
				s += dy[i * out + j];
			dbias[j] = (float)s;
		}
	return 0;
}

double mli_sigmoid_xent(size_t n, const float *z, const float *t, const float *weight,
			float pos_weight, float scale, float *dz)
{
	double total = 0;

	for (size_t i = 0; i < n; i++) {
		double w = weight ? weight[i] : 1.0, zi = z[i], ti = t[i];
		double l = 1.0 + ((double)pos_weight - 1.0) * ti;
		/* log(1 + e^-z) = log1p(e^-|z|) + max(-z, 0), exact for any z. */
		double sp = log1p(exp(-fabs(zi))) + (zi < 0 ? -zi : 0.0);
		/* sigmoid(-z), computed without overflow. */
		double sneg = zi >= 0 ? exp(-zi) / (1.0 + exp(-zi)) : 1.0 / (1.0 + exp(zi));
		if (w == 0.0) {
			if (dz)
				dz[i] = 0.0f;
			continue;
		}
		total += w * ((1.0 - ti) * zi + l * sp);
		if (dz)
			dz[i] = (float)(scale * w * ((1.0 - ti) - l * sneg));
	}
	return scale * total;
}

double mli_softmax_xent(size_t n, size_t k, const float *z, const int *labels, float scale,
			float *dz)
{
	double total = 0;

	for (size_t i = 0; i < n; i++) {
		const float *zr = z + i * k;
		double mx = -INFINITY, s = 0;
		int lab = labels[i];
		if (lab < 0 || (size_t)lab >= k) {
			if (dz)
				memset(dz + i * k, 0, k * sizeof *dz);
			continue;
		}
		for (size_t j = 0; j < k; j++)
			mx = zr[j] > mx ? zr[j] : mx;
		for (size_t j = 0; j < k; j++)
			s += exp((double)zr[j] - mx);
		total += log(s) + mx - zr[lab];
		if (dz) {
			double zl = zr[lab];
			for (size_t j = 0; j < k; j++)
				dz[i * k + j] = (float)(scale * exp((double)zr[j] - mx) / s);
			dz[i * k + lab] = (float)(scale * (exp(zl - mx) / s - 1.0));
		}
	}
	return scale * total;
}

/* resnet.c: the pre-activation bottleneck ResNet (see resnet.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "nn.h"
#include "resnet.h"

/* A batch-norm layer: indices of its four parameters, and the batch
 * statistics saved by the training forward pass for the backward one. */
struct bn {
	size_t c;
	int gamma, beta, mean, var;  /* indices into net->param */
	float *bmean, *inv_std;      /* (c) each */
};

struct conv {
	struct mli_conv_shape s;     /* with n = the largest batch */
	int wt;                      /* index into net->param */
	double macs;                 /* per image */
};

/* One bottleneck block's layers and saved activations (NHWC); rows_in =
 * n * h * w, rows_out = n * oh * ow. The batch-norm + ReLU outputs are
 * not kept: the forward pass writes each into the shared buffer `act`
 * just before the convolution that reads it, and the backward pass makes
 * it again from the convolution or block output it came from, with the
 * saved statistics (one elementwise pass, cheap beside a convolution).
 * That halves the activation memory. */
struct block {
	int stage, proj;
	size_t h, w, oh, ow, cin, mid, cout;
	struct bn bn_s, bn1, bn2, bn3;
	struct conv cs, c1, c2, c3;
	float *x;    /* (rows_in, cin) input: the previous output */
	float *y1;   /* (rows_in, mid) conv1(relu(bn1(x))) */
	float *y2;   /* (rows_out, mid) conv2(relu(bn2(y1))) */
	float *out;  /* (rows_out, cout) conv3(relu(bn3(y2))) + shortcut */
};

struct mli_resnet_impl {
	const struct mli_kernels *kern;
	struct conv stem;
	float *stem_out;            /* (n, sh, sw, width) */
	size_t sh, sw;
	struct block *blocks;
	size_t n_blocks;
	struct bn bnf;
	float *af;                  /* (rows_f, features) relu(bnf(last out)) */
	size_t fh, fw;
	float *feat;                /* (batch, features) */
	float *dfeat;               /* (batch, features) */
	float *scratch;             /* (max act) projection output */
	float *act;                 /* (max act) the batch-norm + ReLU output in use */
	float *g[4];                /* (max act) gradient buffers */
	/* An inference-only network's buffers instead of the per-block
	 * arrays: io[0] and io[1] take turns as a block's input and output
	 * (the stem writes io[0]); y[0] and y[1] hold the block's inner
	 * activations, batch norm applied in place; act the batch-norm +
	 * ReLU of the block input. */
	float *io[2], *y[2];
	float *arena;               /* every array above, 64-byte aligned */
	void *arena_raw;            /* what calloc gave for it */
	struct mli_buffer ws;       /* convolution work space */
	struct mli_buffer bn_ws;    /* batch-norm work space */
	size_t cap_params;
	int freeze;
};

int mli_resnet_arch(const char *name, struct mli_resnet_config *cfg)
{
	static const struct {
		const char *name;
		int blocks[4];
	} known[] = {
		{ "resnet50", { 3, 4, 6, 3 } },
		{ "resnet101", { 3, 4, 23, 3 } },
		{ "resnet152", { 3, 8, 36, 3 } },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(name, known[i].name) == 0) {
			cfg->stages = 4;
			memcpy(cfg->blocks, known[i].blocks, sizeof cfg->blocks);
			return 0;
		}
	/* A custom list: "B0,B1,..." with 1 to 4 counts of 1 to 99. */
	long v[4];
	size_t n;
	int blocks[4] = { 0 };
	if (mli_parse_long_list(name, 1, 99, 0, v, 4, &n) < 0)
		return MLI_EINVAL;
	for (size_t i = 0; i < n; i++)
		blocks[i] = (int)v[i];
	cfg->stages = (int)n;
	memcpy(cfg->blocks, blocks, sizeof blocks);
	return 0;
}

/* Parameter table building: first a counting pass (net->params NULL),
 * then the real one. */
static int add_param(struct mli_resnet *net, const char *scope, const char *name,
		     enum mli_param_kind kind, int stage, int ndim, const size_t *dims)
{
	struct mli_resnet_impl *im = net->impl;
	size_t count = 1;
	for (int i = 0; i < ndim; i++)
		count *= dims[i];
	if (net->n_param < im->cap_params) {
		struct mli_param *p = &net->param[net->n_param];
		snprintf(p->name, sizeof p->name, "%s/%s", scope, name);
		p->kind = kind;
		p->offset = net->n_floats;
		p->count = count;
		p->ndim = ndim;
		for (int i = 0; i < 4; i++)
			p->dims[i] = i < ndim ? dims[i] : 0;
		p->stage = stage;
		p->trainable = kind != MLI_PARAM_MEAN && kind != MLI_PARAM_VAR;
		p->decay = kind == MLI_PARAM_CONV || kind == MLI_PARAM_FC_W || kind == MLI_PARAM_FC_B;
		p->frozen = 0;
	}
	/* Round every view to 16 floats so that each starts 64-byte aligned. */
	net->n_floats += (count + 15) & ~(size_t)15;
	return (int)net->n_param++;
}

static void add_bn(struct mli_resnet *net, struct bn *bn, const char *scope, size_t c, int stage)
{
	char s[96];
	snprintf(s, sizeof s, "%s/batch_normalization", scope);
	bn->c = c;
	bn->gamma = add_param(net, s, "gamma", MLI_PARAM_GAMMA, stage, 1, &c);
	bn->beta = add_param(net, s, "beta", MLI_PARAM_BETA, stage, 1, &c);
	bn->mean = add_param(net, s, "moving_mean", MLI_PARAM_MEAN, stage, 1, &c);
	bn->var = add_param(net, s, "moving_variance", MLI_PARAM_VAR, stage, 1, &c);
}

static int add_conv(struct mli_resnet *net, struct conv *cv, const char *scope, size_t n,
		    size_t h, size_t w, size_t c, size_t k, size_t kout, size_t stride, int stage)
{
	char s[96];
	size_t dims[4] = { k, k, c, kout };
	int rc = mli_conv_shape_init(&cv->s, n, h, w, c, k, k, kout, stride);
	if (rc < 0)
		return rc;
	snprintf(s, sizeof s, "%s/conv2d", scope);
	cv->wt = add_param(net, s, "kernel", MLI_PARAM_CONV, stage, 4, dims);
	cv->macs = (double)cv->s.oh * cv->s.ow * k * k * c * kout;
	return 0;
}

/* Lays out the parameters (both passes) and the blocks' shapes. */
static int layout(struct mli_resnet *net)
{
	struct mli_resnet_impl *im = net->impl;
	const struct mli_resnet_config *cfg = &net->cfg;
	size_t n = cfg->batch, h, w, c;
	char scope[64];
	int rc, b = 0;

	net->n_param = 0;
	net->n_floats = 0;
	rc = add_conv(net, &im->stem, "init/init_conv", n, cfg->in_h, cfg->in_w, cfg->in_c, 7,
		      cfg->width, 2, -1);
	if (rc < 0)
		return rc;
	h = im->sh = im->stem.s.oh;
	w = im->sw = im->stem.s.ow;
	c = cfg->width;
	for (int s = 0; s < cfg->stages; s++) {
		size_t mid = cfg->width << s, cout = 4 * mid;
		for (int j = 0; j < cfg->blocks[s]; j++, b++) {
			struct block *bl = &im->blocks[b];
			size_t stride = j == 0 ? 2 : 1;
			char sc[96];
			snprintf(scope, sizeof scope, "stages_%d_block_%d", s, j);
			bl->stage = s;
			bl->proj = j == 0;
			bl->h = h;
			bl->w = w;
			bl->cin = c;
			bl->mid = mid;
			bl->cout = cout;
#define SUB(name) (snprintf(sc, sizeof sc, "%s/%s", scope, name), sc)
			if (bl->proj) {
				add_bn(net, &bl->bn_s, SUB("conv1_b1_bn"), c, s);
				rc = add_conv(net, &bl->cs, SUB("conv1_b1"), n, h, w, c, 1, cout,
					      stride, s);
				if (rc < 0)
					return rc;
			}
			add_bn(net, &bl->bn1, SUB("conv1_b2_bn"), c, s);
			rc = add_conv(net, &bl->c1, SUB("conv1_b2"), n, h, w, c, 1, mid, 1, s);
			if (rc < 0)
				return rc;
			add_bn(net, &bl->bn2, SUB("conv2_b2_bn"), mid, s);
			rc = add_conv(net, &bl->c2, SUB("conv2_b2"), n, h, w, mid, 3, mid, stride, s);
			if (rc < 0)
				return rc;
			bl->oh = bl->c2.s.oh;
			bl->ow = bl->c2.s.ow;
			add_bn(net, &bl->bn3, SUB("conv3_b2_bn"), mid, s);
			rc = add_conv(net, &bl->c3, SUB("conv3_b2"), n, bl->oh, bl->ow, mid, 1, cout, 1,
				      s);
			if (rc < 0)
				return rc;
#undef SUB
			h = bl->oh;
			w = bl->ow;
			c = cout;
		}
	}
	im->fh = h;
	im->fw = w;
	net->features = c;
	add_bn(net, &im->bnf, "global_pool/bn", c, 4);
	size_t fcw[2] = { c, cfg->classes };
	add_param(net, "logits/dense", "kernel", MLI_PARAM_FC_W, 4, 2, fcw);
	add_param(net, "logits/dense", "bias", MLI_PARAM_FC_B, 4, 1, &cfg->classes);
	return 0;
}

/* The next array of an arena: base + *off, or NULL when only counting
 * (base NULL); *off moves on by count floats, rounded up to 16 so that
 * every array is 64-byte aligned. */
static float *take(float *base, size_t *off, size_t count)
{
	float *p = base ? base + *off : NULL;
	*off += (count + 15) & ~(size_t)15;
	return p;
}

/* The saved statistics of a batch norm, from the arena as take(). */
static void take_bn(struct bn *bn, float *base, size_t *off)
{
	bn->bmean = take(base, off, bn->c);
	bn->inv_std = take(base, off, bn->c);
}

/* carve() for an inference-only network: each buffer as large as the
 * largest thing it holds. */

static size_t carve_inference(struct mli_resnet *net, float *base)
{
	struct mli_resnet_impl *im = net->impl;
	size_t n = net->cfg.batch, off = 0;
	size_t io = n * im->sh * im->sw * net->cfg.width, act = n * im->fh * im->fw * net->features;
	size_t y0 = 0, y1 = 0;
#define MAX(a, b) ((a) = (b) > (a) ? (b) : (a))
	for (size_t b = 0; b < im->n_blocks; b++) {
		const struct block *bl = &im->blocks[b];
		size_t ri = n * bl->h * bl->w, ro = n * bl->oh * bl->ow;
		MAX(io, ri * bl->cin);
		MAX(io, ro * bl->cout);
		MAX(act, ri * bl->cin);
		MAX(y0, ri * bl->mid);
		MAX(y0, ro * bl->cout);  /* a projection block's main path */
		MAX(y1, ro * bl->mid);
	}
#undef MAX
	net->input = take(base, &off, n * net->cfg.in_h * net->cfg.in_w * net->cfg.in_c);
	im->io[0] = take(base, &off, io);
	im->io[1] = take(base, &off, io);
	im->act = take(base, &off, act);
	im->y[0] = take(base, &off, y0);
	im->y[1] = take(base, &off, y1);
	im->feat = take(base, &off, n * net->features);
	net->logits = take(base, &off, n * net->cfg.classes);
	return off;
}

/* Assigns the activation arrays from one arena (or, with base NULL,
 * counts the floats needed), every array 16-float aligned. */
static size_t carve(struct mli_resnet *net, float *base)
{
	struct mli_resnet_impl *im = net->impl;
	size_t n = net->cfg.batch, off = 0, maxact = 0;
	net->input = take(base, &off, n * net->cfg.in_h * net->cfg.in_w * net->cfg.in_c);
	im->stem_out = take(base, &off, n * im->sh * im->sw * net->cfg.width);
	maxact = n * im->sh * im->sw * net->cfg.width;
	float *prev = im->stem_out;
	for (size_t b = 0; b < im->n_blocks; b++) {
		struct block *bl = &im->blocks[b];
		size_t ri = n * bl->h * bl->w, ro = n * bl->oh * bl->ow;
		if (base)
			bl->x = prev;
		if (bl->proj)
			take_bn(&bl->bn_s, base, &off);
		bl->y1 = take(base, &off, ri * bl->mid);
		bl->y2 = take(base, &off, ro * bl->mid);
		bl->out = take(base, &off, ro * bl->cout);
		take_bn(&bl->bn1, base, &off);
		take_bn(&bl->bn2, base, &off);
		take_bn(&bl->bn3, base, &off);
		size_t sizes[4] = { ri * bl->cin, ri * bl->mid, ro * bl->mid, ro * bl->cout };
		for (int i = 0; i < 4; i++)
			maxact = sizes[i] > maxact ? sizes[i] : maxact;
		if (base)
			prev = bl->out;
	}
	im->af = take(base, &off, n * im->fh * im->fw * net->features);
	take_bn(&im->bnf, base, &off);
	im->feat = take(base, &off, n * net->features);
	im->dfeat = take(base, &off, n * net->features);
	net->logits = take(base, &off, n * net->cfg.classes);
	net->dlogits = take(base, &off, n * net->cfg.classes);
	im->scratch = take(base, &off, maxact);
	im->act = take(base, &off, maxact);
	for (int i = 0; i < 4; i++)
		im->g[i] = take(base, &off, maxact);
	return off;
}

int mli_resnet_create(struct mli_resnet **out, const struct mli_resnet_config *cfg,
		      const struct mli_kernels *kern)
{
	struct mli_resnet *net = NULL;
	size_t nb = 0;
	int rc = MLI_ENOMEM;

	*out = NULL;
	if (cfg->stages < 1 || cfg->stages > MLI_RESNET_STAGES_MAX || cfg->width < 1 ||
	    cfg->classes < 1 || cfg->in_c < 1 || cfg->in_h < 32 || cfg->in_w < 32 ||
	    cfg->batch < 1 || !(cfg->bn_eps > 0) || !(cfg->bn_decay >= 0 && cfg->bn_decay <= 1))
		return MLI_EINVAL;
	for (int s = 0; s < cfg->stages; s++) {
		if (cfg->blocks[s] < 1)
			return MLI_EINVAL;
		nb += (size_t)cfg->blocks[s];
	}
	net = calloc(1, sizeof *net);
	if (!net || !(net->impl = calloc(1, sizeof *net->impl)))
		goto fail;
	net->cfg = *cfg;
	net->impl->kern = kern;
	net->impl->n_blocks = nb;
	net->impl->blocks = calloc(nb, sizeof *net->impl->blocks);
	if (!net->impl->blocks)
		goto fail;
	/* Counting pass, then the table. */
	rc = layout(net);
	if (rc < 0)
		goto fail;
	rc = MLI_ENOMEM;
	net->impl->cap_params = net->n_param;
	net->param = calloc(net->n_param, sizeof *net->param);
	if (!net->param)
		goto fail;
	rc = layout(net);
	if (rc < 0)
		goto fail;
	rc = MLI_ENOMEM;
	if (posix_memalign((void **)&net->params, 64, net->n_floats * sizeof(float)))
		goto fail;
	memset(net->params, 0, net->n_floats * sizeof(float));
	if (!cfg->inference_only) {
		if (posix_memalign((void **)&net->grads, 64, net->n_floats * sizeof(float)))
			goto fail;
		memset(net->grads, 0, net->n_floats * sizeof(float));
	}
	size_t (*carve_fn)(struct mli_resnet *, float *) =
		cfg->inference_only ? carve_inference : carve;
	/* calloc, not posix_memalign and memset: for an arena this size the
	 * pages come zeroed from the kernel and stay out of the resident set
	 * until a pass writes them (mli-eval frees the checkpoint file it
	 * loaded from before that). */
	size_t act = carve_fn(net, NULL);
	if (!(net->impl->arena_raw = calloc(act + 16, sizeof(float))))
		goto fail;
	net->impl->arena = (float *)(((uintptr_t)net->impl->arena_raw + 63) & ~(uintptr_t)63);
	carve_fn(net, net->impl->arena);
	net->act_bytes = act * sizeof(float);
	*out = net;
	return 0;
fail:
	mli_resnet_free(net);
	return rc;
}

void mli_resnet_free(struct mli_resnet *net)
{
	if (!net)
		return;
	if (net->impl) {
		free(net->impl->blocks);
		free(net->impl->arena_raw);
		mli_buffer_free(&net->impl->ws);
		mli_buffer_free(&net->impl->bn_ws);
		free(net->impl);
	}
	free(net->param);
	free(net->params);
	free(net->grads);
	free(net);
}

struct mli_param *mli_resnet_param(struct mli_resnet *net, const char *name)
{
	for (size_t i = 0; i < net->n_param; i++)
		if (strcmp(net->param[i].name, name) == 0)
			return &net->param[i];
	return NULL;
}

/* A standard normal draw truncated to [-2, 2] by rejection, as
 * TensorFlow's truncated_normal (Box-Muller, the second variate dropped
 * so that every draw takes two uniforms). */
static double truncated_normal(struct mli_rng *r)
{
	for (;;) {
		double u1 = 1.0 - mli_rng_uniform(r), u2 = mli_rng_uniform(r);
		double x = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		if (x >= -2.0 && x <= 2.0)
			return x;
	}
}

void mli_resnet_init(struct mli_resnet *net, struct mli_rng *r)
{
	for (size_t i = 0; i < net->n_param; i++) {
		const struct mli_param *p = &net->param[i];
		float *v = net->params + p->offset;
		switch (p->kind) {
		case MLI_PARAM_CONV: {
			double fan_in = (double)p->dims[0] * p->dims[1] * p->dims[2];
			double sd = sqrt(1.0 / fan_in) / 0.87962566103423978;
			for (size_t j = 0; j < p->count; j++)
				v[j] = (float)(sd * truncated_normal(r));
			break;
		}
		case MLI_PARAM_FC_W: {
			double lim = sqrt(6.0 / (double)(p->dims[0] + p->dims[1]));
			for (size_t j = 0; j < p->count; j++)
				v[j] = (float)(lim * (2.0 * mli_rng_uniform(r) - 1.0));
			break;
		}
		case MLI_PARAM_GAMMA:
		case MLI_PARAM_VAR:
			for (size_t j = 0; j < p->count; j++)
				v[j] = 1.0f;
			break;
		default:
			memset(v, 0, p->count * sizeof *v);
		}
	}
}

void mli_resnet_freeze(struct mli_resnet *net, int n)
{
	net->impl->freeze = n;
	for (size_t i = 0; i < net->n_param; i++) {
		struct mli_param *p = &net->param[i];
		p->frozen = p->stage < n;
		if (p->frozen && net->grads)
			memset(net->grads + p->offset, 0, p->count * sizeof(float));
	}
}

void mli_resnet_input_u8(struct mli_resnet *net, size_t n, const uint8_t *src)
{
	size_t c = net->cfg.in_c, hw = net->cfg.in_h * net->cfg.in_w;
	for (size_t b = 0; b < n; b++)
		for (size_t ch = 0; ch < c; ch++) {
			const uint8_t *s = src + (b * c + ch) * hw;
			float *d = net->input + b * hw * c + ch;
			for (size_t p = 0; p < hw; p++)
				d[p * c] = (float)s[p] * (2.0f / 255.0f) - 1.0f;
		}
}

void mli_resnet_input_f32(struct mli_resnet *net, size_t n, const float *src)
{
	size_t c = net->cfg.in_c, hw = net->cfg.in_h * net->cfg.in_w;
	for (size_t b = 0; b < n; b++)
		for (size_t ch = 0; ch < c; ch++) {
			const float *s = src + (b * c + ch) * hw;
			float *d = net->input + b * hw * c + ch;
			for (size_t p = 0; p < hw; p++)
				d[p * c] = s[p];
		}
}

#define P(i) (net->params + net->param[(i)].offset)
#define G(i) (net->grads + net->param[(i)].offset)

/* y = relu(bn(x)) again, from the statistics the training forward pass
 * saved. */
static int remake(struct mli_resnet *net, struct mli_pool *pool, const struct bn *bn,
		  size_t rows, const float *x, float *y)
{
	return mli_bn_remake(net->impl->kern, pool, rows, bn->c, x, P(bn->gamma), P(bn->beta),
			     bn->bmean, bn->inv_std, 1, y, &net->impl->bn_ws);
}

static int bn_fwd(struct mli_resnet *net, struct mli_pool *pool, struct bn *bn, size_t rows,
		  const float *x, float *y, int train)
{
	const struct mli_kernels *k = net->impl->kern;
	if (train)
		return mli_bn_forward_train(k, pool, rows, bn->c, x, P(bn->gamma), P(bn->beta),
					    net->cfg.bn_eps, 1, y, bn->bmean, bn->inv_std,
					    P(bn->mean), P(bn->var), net->cfg.bn_decay, &net->impl->bn_ws);
	return mli_bn_forward_infer(k, pool, rows, bn->c, x, P(bn->gamma), P(bn->beta), P(bn->mean),
				    P(bn->var), net->cfg.bn_eps, 1, y, &net->impl->bn_ws);
}

/* x += res (the shortcut sum that ends the block before, when res is not
 * NULL), then bn_fwd: in training the sum is made in the statistics
 * pass (one pass less over the block output). */
static int bn_fwd_residual(struct mli_resnet *net, struct mli_pool *pool, struct bn *bn,
			   size_t rows, float *x, const float *res, float *y, int train)
{
	const struct mli_kernels *k = net->impl->kern;
	if (!res)
		return bn_fwd(net, pool, bn, rows, x, y, train);
	if (!train) {
		mli_add(k, pool, rows * bn->c, x, res, x);
		return bn_fwd(net, pool, bn, rows, x, y, train);
	}
	return mli_bn_forward_train_residual(k, pool, rows, bn->c, x, res, P(bn->gamma),
					     P(bn->beta), net->cfg.bn_eps, 1, y, bn->bmean,
					     bn->inv_std, P(bn->mean), P(bn->var),
					     net->cfg.bn_decay, &net->impl->bn_ws);
}

/* dx = the batch norm's input gradient, plus res when not NULL. */
static int bn_bwd(struct mli_resnet *net, struct mli_pool *pool, struct bn *bn, size_t rows,
		  const float *x, const float *dy, const float *res, float *dx)
{
	return mli_bn_backward_residual(net->impl->kern, pool, rows, bn->c, x, dy, P(bn->gamma),
					P(bn->beta), bn->bmean, bn->inv_std, 1, res, dx,
					G(bn->gamma), G(bn->beta), &net->impl->bn_ws);
}

static int conv_fwd(struct mli_resnet *net, struct mli_pool *pool, const struct conv *cv,
		    size_t n, const float *x, float *y)
{
	struct mli_conv_shape s = cv->s;
	s.n = n;
	return mli_conv_forward(net->impl->kern, pool, &net->impl->ws, &s, x, P(cv->wt), y);
}

static int conv_bwd(struct mli_resnet *net, struct mli_pool *pool, const struct conv *cv,
		    size_t n, const float *x, const float *dy, float *dx)
{
	struct mli_conv_shape s = cv->s;
	int rc;
	s.n = n;
	rc = mli_conv_backward_weights(net->impl->kern, pool, &net->impl->ws, &s, x, dy, G(cv->wt));
	if (rc < 0 || !dx)
		return rc;
	return mli_conv_backward_data(net->impl->kern, pool, &net->impl->ws, &s, dy, P(cv->wt), dx);
}

#define TRY(call)                  \
	do {                       \
		int rc_ = (call);  \
		if (rc_ < 0)       \
			return rc_; \
	} while (0)

/* The forward pass of an inference-only network: the operations of
 * mli_resnet_forward with train 0, in the same order on the same
 * values, through the reused buffers. */
static int forward_inference(struct mli_resnet *net, struct mli_pool *pool, size_t n)
{
	struct mli_resnet_impl *im = net->impl;
	const struct mli_kernels *k = im->kern;
	float *cur = im->io[0], *nxt = im->io[1], *a = im->act, *y1 = im->y[0], *y2 = im->y[1];

	TRY(conv_fwd(net, pool, &im->stem, n, net->input, cur));
	for (size_t b = 0; b < im->n_blocks; b++) {
		struct block *bl = &im->blocks[b];
		size_t ri = n * bl->h * bl->w, ro = n * bl->oh * bl->ow;
		if (bl->proj) {
			/* The shortcut first, into the output buffer, so that
			 * the block input is free once the main path starts. */
			TRY(bn_fwd(net, pool, &bl->bn_s, ri, cur, a, 0));
			TRY(conv_fwd(net, pool, &bl->cs, n, a, nxt));
		}
		TRY(bn_fwd(net, pool, &bl->bn1, ri, cur, a, 0));
		TRY(conv_fwd(net, pool, &bl->c1, n, a, y1));
		TRY(bn_fwd(net, pool, &bl->bn2, ri, y1, y1, 0));
		TRY(conv_fwd(net, pool, &bl->c2, n, y1, y2));
		TRY(bn_fwd(net, pool, &bl->bn3, ro, y2, y2, 0));
		if (bl->proj) {
			TRY(conv_fwd(net, pool, &bl->c3, n, y2, y1));
			mli_add(k, pool, ro * bl->cout, y1, nxt, nxt);
		} else {
			TRY(conv_fwd(net, pool, &bl->c3, n, y2, nxt));
			mli_add(k, pool, ro * bl->cout, nxt, cur, nxt);
		}
		float *swap = cur;
		cur = nxt;
		nxt = swap;
	}
	size_t hw = im->fh * im->fw, c = net->features;
	TRY(bn_fwd(net, pool, &im->bnf, n * hw, cur, a, 0));
	mli_avgpool_forward(pool, n, hw, c, a, im->feat);
	int wi = (int)net->n_param - 2;
	return mli_fc_forward(k, pool, n, c, net->cfg.classes, im->feat, P(wi), P(wi + 1),
			      net->logits);
}

int mli_resnet_forward(struct mli_resnet *net, struct mli_pool *pool, size_t n, int train)
{
	struct mli_resnet_impl *im = net->impl;
	const struct mli_kernels *k = im->kern;

	if (n < 1 || n > net->cfg.batch || (train && n < 2))
		return MLI_EINVAL;
	if (net->cfg.inference_only) {
		if (train)
			return MLI_EINVAL;
		return forward_inference(net, pool, n);
	}
	/* A block's output takes its shortcut (res) in the next batch
	 * norm's first pass, which reads it anyway. */
	const float *res = NULL;
	TRY(conv_fwd(net, pool, &im->stem, n, net->input, im->stem_out));
	for (size_t b = 0; b < im->n_blocks; b++) {
		struct block *bl = &im->blocks[b];
		size_t ri = n * bl->h * bl->w;
		float *a = im->act;
		TRY(bn_fwd_residual(net, pool, &bl->bn1, ri, bl->x, res, a, train));
		TRY(conv_fwd(net, pool, &bl->c1, n, a, bl->y1));
		TRY(bn_fwd(net, pool, &bl->bn2, ri, bl->y1, a, train));
		TRY(conv_fwd(net, pool, &bl->c2, n, a, bl->y2));
		TRY(bn_fwd(net, pool, &bl->bn3, n * bl->oh * bl->ow, bl->y2, a, train));
		TRY(conv_fwd(net, pool, &bl->c3, n, a, bl->out));
		res = bl->x;
		if (bl->proj) {
			TRY(bn_fwd(net, pool, &bl->bn_s, ri, bl->x, a, train));
			TRY(conv_fwd(net, pool, &bl->cs, n, a, im->scratch));
			res = im->scratch;
		}
	}
	size_t hw = im->fh * im->fw, c = net->features;
	float *last = im->n_blocks ? im->blocks[im->n_blocks - 1].out : im->stem_out;
	TRY(bn_fwd_residual(net, pool, &im->bnf, n * hw, last, res, im->af, train));
	mli_avgpool_forward(pool, n, hw, c, im->af, im->feat);
	int wi = (int)net->n_param - 2;
	return mli_fc_forward(k, pool, n, c, net->cfg.classes, im->feat, P(wi), P(wi + 1),
			      net->logits);
}

int mli_resnet_backward(struct mli_resnet *net, struct mli_pool *pool, size_t n)
{
	struct mli_resnet_impl *im = net->impl;
	const struct mli_kernels *k = im->kern;
	size_t hw = im->fh * im->fw, c = net->features;
	int wi = (int)net->n_param - 2;
	float *d = im->g[0], *e = im->g[1], *t1 = im->g[2], *t2 = im->g[3];

	if (n < 2 || n > net->cfg.batch || net->cfg.inference_only)
		return MLI_EINVAL;
	TRY(mli_fc_backward(k, pool, n, c, net->cfg.classes, im->feat, P(wi), net->dlogits,
			    im->dfeat, G(wi), G(wi + 1)));
	mli_avgpool_backward(pool, n, hw, c, im->dfeat, d);
	const float *last = im->n_blocks ? im->blocks[im->n_blocks - 1].out : im->stem_out;
	TRY(bn_bwd(net, pool, &im->bnf, n * hw, last, d, NULL, d));
	/* d holds dL/d(out) of the block being walked back. */
	for (size_t b = im->n_blocks; b-- > 0;) {
		struct block *bl = &im->blocks[b];
		size_t ri = n * bl->h * bl->w, ro = n * bl->oh * bl->ow;
		if (bl->stage < im->freeze)
			return 0;
		float *a = im->act;
		TRY(remake(net, pool, &bl->bn3, ro, bl->y2, a));
		TRY(conv_bwd(net, pool, &bl->c3, n, a, d, t1));
		TRY(bn_bwd(net, pool, &bl->bn3, ro, bl->y2, t1, NULL, t1));
		TRY(remake(net, pool, &bl->bn2, ri, bl->y1, a));
		TRY(conv_bwd(net, pool, &bl->c2, n, a, t1, t2));
		TRY(bn_bwd(net, pool, &bl->bn2, ri, bl->y1, t2, NULL, t2));
		/* The shortcut's gradient (d itself, or the projection's in
		 * t1, now free) is added into the last batch norm's dx. */
		const float *shortcut = d;
		if (bl->proj) {
			TRY(remake(net, pool, &bl->bn_s, ri, bl->x, a));
			TRY(conv_bwd(net, pool, &bl->cs, n, a, d, t1));
			TRY(bn_bwd(net, pool, &bl->bn_s, ri, bl->x, t1, NULL, t1));
			shortcut = t1;
		}
		TRY(remake(net, pool, &bl->bn1, ri, bl->x, a));
		TRY(conv_bwd(net, pool, &bl->c1, n, a, t2, e));
		TRY(bn_bwd(net, pool, &bl->bn1, ri, bl->x, e, shortcut, e));
		float *swap = d;
		d = e;
		e = swap;
	}
	if (im->freeze > 0)
		return 0;
	/* The stem: nothing learns from the image, so only its weights. */
	return conv_bwd(net, pool, &im->stem, n, net->input, d, NULL);
}

const float *mli_resnet_features(const struct mli_resnet *net)
{
	return net->impl->feat;
}

double mli_resnet_macs(const struct mli_resnet *net)
{
	const struct mli_resnet_impl *im = net->impl;
	double m = im->stem.macs;
	for (size_t b = 0; b < im->n_blocks; b++) {
		const struct block *bl = &im->blocks[b];
		m += bl->c1.macs + bl->c2.macs + bl->c3.macs + (bl->proj ? bl->cs.macs : 0);
	}
	return m + (double)net->features * net->cfg.classes;
}

/* unit-resnet.c: the ResNet model. Every trainable parameter's gradient
 * (sampled elements of each) against central finite differences of the
 * forward pass on a tiny configuration with both kinds of block; the
 * original's parameter names and shapes; the initialisation's spread;
 * forward and backward bit-identical across thread counts; freezing. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels.h"
#include "resnet.h"
#include "random.h"
#include "tables.h"
#include "tap.h"

#define mli_rng_init_seed(r, s) mli_rng_init((r), (s), NULL, 0, 0)
#include "threadpool.h"

static struct mli_resnet_config tiny(void)
{
	struct mli_resnet_config c = { 0 };
	mli_resnet_arch("1,2", &c);
	c.width = 4;
	c.classes = 3;
	c.in_c = 3;
	c.in_h = 32;
	c.in_w = 36;
	c.batch = 3;
	c.bn_decay = 0.997f;
	c.bn_eps = 1e-5f;
	return c;
}

static void random_input(struct mli_resnet *net, size_t n, uint64_t seed)
{
	struct mli_rng r;
	size_t count = n * net->cfg.in_c * net->cfg.in_h * net->cfg.in_w;
	uint8_t *px = malloc(count);
	mli_rng_init_seed(&r, seed);
	for (size_t i = 0; i < count; i++)
		px[i] = (uint8_t)(mli_rng_next(&r) >> 56);
	mli_resnet_input_u8(net, n, px);
	free(px);
}

/* L = sum of r * logits, in double; r fixed. */
static struct mli_pool *pool1; /* one thread: the convolutions need a pool */

static double objective(struct mli_resnet *net, size_t n, const float *r)
{
	double l = 0;
	if (mli_resnet_forward(net, pool1, n, 1) < 0)
		return NAN;
	for (size_t i = 0; i < n * net->cfg.classes; i++)
		l += (double)r[i] * net->logits[i];
	return l;
}

static void test_gradients_match_finite_differences(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *net;
	struct mli_rng rng;
	size_t n = 3, checked = 0, bad = 0;
	float r[9];

	ASSERT_EQ(mli_resnet_create(&net, &cfg, mli_kernels_ref()), 0);
	mli_rng_init_seed(&rng, 7);
	mli_resnet_init(net, &rng);
	/* Move batch norm off its identity start so gamma and beta matter. */
	for (size_t i = 0; i < net->n_param; i++) {
		struct mli_param *p = &net->param[i];
		if (p->kind == MLI_PARAM_GAMMA || p->kind == MLI_PARAM_BETA)
			for (size_t j = 0; j < p->count; j++)
				net->params[p->offset + j] +=
					(float)(0.3 * (mli_rng_uniform(&rng) - 0.5));
	}
	random_input(net, n, 11);
	for (int i = 0; i < 9; i++)
		r[i] = (float)(mli_rng_uniform(&rng) * 2 - 1);
	objective(net, n, r);
	memcpy(net->dlogits, r, sizeof r);
	ASSERT_EQ(mli_resnet_backward(net, pool1, n), 0);
	float *grad = malloc(net->n_floats * sizeof(float));
	memcpy(grad, net->grads, net->n_floats * sizeof(float));
	for (size_t i = 0; i < net->n_param; i++) {
		struct mli_param *p = &net->param[i];
		if (!p->trainable)
			continue;
		for (int s = 0; s < 3; s++) {
			size_t j = p->offset + (size_t)(mli_rng_uniform(&rng) * (double)p->count);
			double an = grad[j], fd = 0;
			int ok = 0;
			/* Two step sizes: a small one (float rounding of the
			 * loss shows) and a larger one (a ReLU kink or a batch
			 * statistic may move inside it); the gradient must agree
			 * with one of them. */
			for (int t = 0; t < 2 && !ok; t++) {
				float keep = net->params[j];
				double h = (t ? 1e-3 : 2e-4) * (1 + fabs(keep));
				net->params[j] = (float)(keep + h);
				double lp = objective(net, n, r);
				net->params[j] = (float)(keep - h);
				double lm = objective(net, n, r);
				net->params[j] = keep;
				fd = (lp - lm) / (2 * h);
				ok = fabs(fd - an) <= 5e-3 + 0.05 * fabs(fd);
			}
			checked++;
			if (!ok) {
				bad++;
				printf("# %s[%zu]: analytic %.6g, finite difference %.6g\n", p->name,
				       j - p->offset, an, fd);
			}
		}
	}
	free(grad);
	mli_resnet_free(net);
	printf("# %zu gradient elements checked, %zu off\n", checked, bad);
	ASSERT(checked > 90);
	/* Kinks can spoil a difference now and then; a wrong gradient path
	 * would spoil every element behind it. */
	ASSERT(bad <= 3);
}

static void test_names_and_shapes_follow_the_original(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *net;
	struct mli_param *p;

	mli_resnet_arch("resnet101", &cfg);
	cfg.width = 64;
	cfg.classes = 11166;
	cfg.in_h = cfg.in_w = 224;
	cfg.batch = 1;
	ASSERT_EQ(mli_resnet_create(&net, &cfg, mli_kernels_ref()), 0);
	p = mli_resnet_param(net, "init/init_conv/conv2d/kernel");
	ASSERT(p && p->ndim == 4 && p->dims[0] == 7 && p->dims[2] == 3 && p->dims[3] == 64);
	p = mli_resnet_param(net, "stages_2_block_22/conv2_b2/conv2d/kernel");
	ASSERT(p && p->dims[0] == 3 && p->dims[2] == 256 && p->dims[3] == 256);
	ASSERT(mli_resnet_param(net, "stages_2_block_23/conv2_b2/conv2d/kernel") == NULL);
	p = mli_resnet_param(net, "stages_3_block_0/conv1_b1/conv2d/kernel");
	ASSERT(p && p->dims[0] == 1 && p->dims[2] == 1024 && p->dims[3] == 2048);
	p = mli_resnet_param(net, "stages_0_block_0/conv1_b1_bn/batch_normalization/moving_variance");
	ASSERT(p && !p->trainable && p->count == 64);
	p = mli_resnet_param(net, "global_pool/bn/batch_normalization/gamma");
	ASSERT(p && p->trainable && !p->decay && p->count == 2048);
	p = mli_resnet_param(net, "logits/dense/bias");
	ASSERT(p && p->decay && p->count == 11166);
	ASSERT_EQ(net->features, 2048);
	/* Weights that take decay: the convolutions of the 101-layer
	 * bottleneck network (42,394,816, summed by hand from the layer
	 * shapes) and the classifier with its bias. */
	size_t weights = 0;
	for (size_t i = 0; i < net->n_param; i++)
		if (net->param[i].decay)
			weights += net->param[i].count;
	printf("# resnet101: %zu weights, %.2f GMACs per image\n", weights,
	       mli_resnet_macs(net) / 1e9);
	ASSERT_EQ(weights, 42394816 + 2048 * 11166 + 11166);
	mli_resnet_free(net);
}

static void test_initialisation_is_variance_scaling(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *net;
	struct mli_rng rng;

	cfg.width = 16;
	ASSERT_EQ(mli_resnet_create(&net, &cfg, mli_kernels_ref()), 0);
	mli_rng_init_seed(&rng, 1);
	mli_resnet_init(net, &rng);
	struct mli_param *p = mli_resnet_param(net, "stages_1_block_1/conv2_b2/conv2d/kernel");
	ASSERT(p);
	double s2 = 0, mx = 0, fan_in = 3 * 3 * 32;
	for (size_t j = 0; j < p->count; j++) {
		double v = net->params[p->offset + j];
		s2 += v * v;
		mx = fabs(v) > mx ? fabs(v) : mx;
	}
	double sd = sqrt(s2 / (double)p->count);
	printf("# stddev %.4f, expected %.4f; largest %.4f\n", sd, sqrt(1 / fan_in), mx);
	ASSERT(fabs(sd - sqrt(1 / fan_in)) < 0.03 * sqrt(1 / fan_in));
	ASSERT(mx <= 2 * sqrt(1 / fan_in) / 0.87962566103423978 + 1e-6);
	p = mli_resnet_param(net, "stages_0_block_0/conv2_b2_bn/batch_normalization/gamma");
	ASSERT(p && net->params[p->offset] == 1.0f);
	mli_resnet_free(net);
}

static void test_bit_identical_across_thread_counts(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *a, *b;
	struct mli_pool *pool;
	struct mli_rng r1, r2;
	const struct mli_kernels *k = mli_kernels_select();

	cfg.width = 8;
	ASSERT(k);
	ASSERT_EQ(mli_resnet_create(&a, &cfg, k), 0);
	ASSERT_EQ(mli_resnet_create(&b, &cfg, k), 0);
	ASSERT_EQ(mli_pool_create(&pool, 3), 0);
	mli_rng_init_seed(&r1, 5);
	mli_rng_init_seed(&r2, 5);
	mli_resnet_init(a, &r1);
	mli_resnet_init(b, &r2);
	ASSERT_MEM_EQ(a->params, b->params, a->n_floats * sizeof(float));
	random_input(a, 3, 2);
	random_input(b, 3, 2);
	ASSERT_EQ(mli_resnet_forward(a, pool1, 3, 1), 0);
	ASSERT_EQ(mli_resnet_forward(b, pool, 3, 1), 0);
	ASSERT_MEM_EQ(a->logits, b->logits, 9 * sizeof(float));
	for (int i = 0; i < 9; i++)
		a->dlogits[i] = b->dlogits[i] = (float)(i - 4) / 9.0f;
	ASSERT_EQ(mli_resnet_backward(a, pool1, 3), 0);
	ASSERT_EQ(mli_resnet_backward(b, pool, 3), 0);
	ASSERT_MEM_EQ(a->grads, b->grads, a->n_floats * sizeof(float));
	ASSERT_MEM_EQ(a->params, b->params, a->n_floats * sizeof(float));
	/* Inference uses the running statistics, which training moved. */
	ASSERT_EQ(mli_resnet_forward(a, pool1, 1, 0), 0);
	mli_pool_destroy(pool);
	mli_resnet_free(a);
	mli_resnet_free(b);
}

static void test_frozen_stages_get_no_gradient(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *net;
	struct mli_rng rng;

	ASSERT_EQ(mli_resnet_create(&net, &cfg, mli_kernels_ref()), 0);
	mli_rng_init_seed(&rng, 3);
	mli_resnet_init(net, &rng);
	mli_resnet_freeze(net, 1);
	random_input(net, 2, 4);
	ASSERT_EQ(mli_resnet_forward(net, pool1, 2, 1), 0);
	for (int i = 0; i < 6; i++)
		net->dlogits[i] = 0.5f;
	ASSERT_EQ(mli_resnet_backward(net, pool1, 2), 0);
	size_t nonzero_frozen = 0, nonzero_free = 0;
	for (size_t i = 0; i < net->n_param; i++) {
		struct mli_param *p = &net->param[i];
		for (size_t j = 0; j < p->count; j++)
			if (net->grads[p->offset + j] != 0)
				*(p->frozen ? &nonzero_frozen : &nonzero_free) += 1;
	}
	ASSERT_EQ(nonzero_frozen, 0);
	ASSERT(nonzero_free > 100);
	ASSERT(mli_resnet_param(net, "stages_0_block_0/conv2_b2/conv2d/kernel")->frozen);
	ASSERT(!mli_resnet_param(net, "stages_1_block_0/conv2_b2/conv2d/kernel")->frozen);
	mli_resnet_free(net);
}

static void test_architectures(struct tap *tap)
{
	struct mli_resnet_config c = { 0 };
	ASSERT_EQ(mli_resnet_arch("resnet152", &c), 0);
	ASSERT(c.stages == 4 && c.blocks[1] == 8 && c.blocks[2] == 36);
	ASSERT_EQ(mli_resnet_arch("2,3", &c), 0);
	ASSERT(c.stages == 2 && c.blocks[0] == 2 && c.blocks[1] == 3);
	ASSERT_EQ(mli_resnet_arch("1,1,1,1,1", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch("0,1", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch("1,", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch("1,,2", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch("100", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch(" 2", &c), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_arch("resnet18", &c), MLI_EINVAL);
}

static void test_inference_only_network_matches_and_is_smaller(struct tap *tap)
{
	struct mli_resnet_config cfg = tiny();
	struct mli_resnet *a, *b;
	struct mli_rng r;
	const struct mli_kernels *k = mli_kernels_select();

	ASSERT(k);
	cfg.width = 8;
	cfg.blocks[0] = 2;  /* a projection block and identity blocks in each stage */
	ASSERT_EQ(mli_resnet_create(&a, &cfg, k), 0);
	cfg.inference_only = 1;
	ASSERT_EQ(mli_resnet_create(&b, &cfg, k), 0);
	ASSERT(b->grads == NULL);
	ASSERT_EQ(b->n_floats, a->n_floats);
	ASSERT_EQ(b->n_param, a->n_param);
	printf("# activation memory: training %zu bytes, inference-only %zu\n", a->act_bytes,
	       b->act_bytes);
	ASSERT(b->act_bytes * 2 < a->act_bytes);
	mli_rng_init_seed(&r, 11);
	mli_resnet_init(a, &r);
	/* Two training passes move the running statistics off 0 and 1. */
	for (int i = 0; i < 2; i++) {
		random_input(a, 3, 20 + (uint64_t)i);
		ASSERT_EQ(mli_resnet_forward(a, pool1, 3, 1), 0);
	}
	memcpy(b->params, a->params, a->n_floats * sizeof(float));
	for (size_t n = 3; n >= 1; n -= 2) {
		random_input(a, n, 30 + n);
		random_input(b, n, 30 + n);
		ASSERT_EQ(mli_resnet_forward(a, pool1, n, 0), 0);
		ASSERT_EQ(mli_resnet_forward(b, pool1, n, 0), 0);
		ASSERT_MEM_EQ(b->logits, a->logits, n * cfg.classes * sizeof(float));
		ASSERT_MEM_EQ(mli_resnet_features(b), mli_resnet_features(a),
			      n * b->features * sizeof(float));
		if (n == 1)
			break;
	}
	ASSERT_EQ(mli_resnet_forward(b, pool1, 3, 1), MLI_EINVAL);
	ASSERT_EQ(mli_resnet_backward(b, pool1, 3), MLI_EINVAL);
	mli_resnet_freeze(b, 1);
	mli_resnet_free(a);
	mli_resnet_free(b);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	struct tables tb = TABLES_INIT;

	if (mli_pool_create(&pool1, 1) < 0)
		return 1;

	RUN(test_architectures);
	RUN(test_gradients_match_finite_differences);
	RUN(test_names_and_shapes_follow_the_original);
	RUN(test_initialisation_is_variance_scaling);
	for (size_t i = 0; i < TABLES; i++)
		if (tables_use(&tb, i)) {
			RUN(test_bit_identical_across_thread_counts);
			RUN(test_inference_only_network_matches_and_is_smaller);
		}
	RUN(test_frozen_stages_get_no_gradient);
	mli_pool_destroy(pool1);
	return tap_done(tap);
}

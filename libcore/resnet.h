/* resnet.h: the original network of ML-Images, a pre-activation (v2)
 * bottleneck ResNet, for training and inference on NHWC tensors.
 *
 * Layout, as the original models/resnet.py:
 *   init/init_conv        7x7 stride 2, `width` filters (64), no BN, no
 *                         max-pool after it;
 *   stages_S_block_B      bottleneck blocks; stage S has 4 * width * 2^S
 *                         outputs and width * 2^S inside; block 0 of every
 *                         stage has stride 2 (in its 3x3) and a projection
 *                         shortcut with its own BN + ReLU:
 *       shortcut  = conv1_b1(relu(conv1_b1_bn(x)))   (1x1, stride 2)
 *       main      = conv3_b2(relu(conv3_b2_bn(conv2_b2(relu(conv2_b2_bn(
 *                   conv1_b2(relu(conv1_b2_bn(x)))))))))
 *                   (1x1, 3x3 with the stride, 1x1)
 *       out       = main + shortcut (shortcut = x in the other blocks);
 *   global_pool/bn        final BN + ReLU, then global average pooling;
 *   logits/dense          fully connected to the classes.
 * Convolutions pad as the original (conv.h: mli_conv_shape_init).
 *
 * Every parameter lives in one contiguous float buffer (params), with a
 * table of named views (the original TensorFlow variable names, so its
 * checkpoints map by renaming nothing); the gradients sit in a second
 * buffer at the same offsets. Activations, saved batch-norm statistics
 * and gradient scratch are allocated once, for the largest batch, when
 * the network is made; the convolution work buffer grows on the first
 * step only, as does the batch-norm work space. An inference-only network (cfg.inference_only) holds the
 * parameters and five activation-sized buffers, nothing else. */
#ifndef MLI_RESNET_H
#define MLI_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "kernels.h"
#include "random.h"
#include "threadpool.h"

#define MLI_RESNET_STAGES_MAX 4

struct mli_resnet_config {
	int stages;                        /* 1 to 4 */
	int blocks[MLI_RESNET_STAGES_MAX]; /* blocks per stage, each >= 1 */
	size_t width;                      /* stem filters: 64 in the original */
	size_t classes;
	size_t in_c, in_h, in_w;           /* input channels and size (>= 32) */
	size_t batch;                      /* largest batch */
	float bn_decay;                    /* 0.997 */
	float bn_eps;                      /* 1e-5 */
	/* Nonzero: an inference-only network (zero, the default, makes one
	 * that trains). It has no gradient buffer (grads is NULL), keeps no
	 * activations for a backward pass and no batch statistics: a forward
	 * pass with the running statistics walks the blocks through a few
	 * buffers of the largest activation's size, reused layer by layer.
	 * A training forward pass or mli_resnet_backward on it returns
	 * MLI_EINVAL. The logits and features are the same bit for bit as a
	 * training network's inference pass gives. */
	int inference_only;
};

/* Fills the stage layout of a named architecture: "resnet50",
 * "resnet101", "resnet152", or a custom list of blocks per stage such as
 * "2,2" or "1,1,1,1" (at most 4 stages). Leaves the other fields alone.
 * Returns 0 or MLI_EINVAL. */
int mli_resnet_arch(const char *name, struct mli_resnet_config *cfg);

/* What a parameter is, for the optimiser and the checkpoints. */
enum mli_param_kind {
	MLI_PARAM_CONV,     /* (kh, kw, cin, cout) */
	MLI_PARAM_GAMMA,    /* (c) */
	MLI_PARAM_BETA,     /* (c) */
	MLI_PARAM_MEAN,     /* (c) running mean: not trained */
	MLI_PARAM_VAR,      /* (c) running variance: not trained */
	MLI_PARAM_FC_W,     /* (in, classes) */
	MLI_PARAM_FC_B      /* (classes) */
};

struct mli_param {
	char name[96];
	enum mli_param_kind kind;
	size_t offset, count;  /* in floats, into params and grads */
	int ndim;
	size_t dims[4];
	int stage;             /* -1 the stem, 0..3 a stage, 4 the head */
	int trainable;         /* has a gradient (not a running statistic) */
	int decay;             /* takes L2 weight decay (not batch norm) */
	int frozen;            /* kept fixed (mli_resnet_freeze) */
};

struct mli_resnet_impl;

struct mli_resnet {
	struct mli_resnet_config cfg;
	float *params;          /* (n_floats) every parameter */
	float *grads;           /* (n_floats) dL/dparam; zero for the rest;
				 * NULL in an inference-only network */
	size_t n_floats;
	struct mli_param *param;
	size_t n_param;
	size_t features;        /* channels at the global pool */
	float *input;           /* (batch, in_h, in_w, in_c) network input */
	float *logits;          /* (batch, classes) */
	float *dlogits;         /* (batch, classes) set by the loss (NULL in an
				 * inference-only network) */
	size_t act_bytes;       /* activation and scratch memory */
	struct mli_resnet_impl *impl;
};

/* Makes a network for cfg with uninitialised parameters (all zero).
 * Returns 0, MLI_EINVAL for a bad configuration, or MLI_ENOMEM. */
int mli_resnet_create(struct mli_resnet **net, const struct mli_resnet_config *cfg,
		      const struct mli_kernels *kern);
void mli_resnet_free(struct mli_resnet *net);

/* The original initialisation: convolutions by TensorFlow's default
 * variance scaling (scale 1, fan-in, truncated normal within 2 standard
 * deviations, stddev sqrt(1 / fan_in) / 0.8796 to undo the truncation);
 * the classifier by Glorot uniform (tf.layers.dense's default) with a
 * zero bias; batch norm gamma 1, beta 0, running mean 0, variance 1.
 * Draws from r in parameter order. */
void mli_resnet_init(struct mli_resnet *net, struct mli_rng *r);

/* Marks the stem and stages 0 .. n-1 as frozen (the original FixBlock2 is
 * n = 2): no gradient flows into them and the optimiser leaves them. */
void mli_resnet_freeze(struct mli_resnet *net, int n);

/* The parameter of this name, or NULL. */
struct mli_param *mli_resnet_param(struct mli_resnet *net, const char *name);

/* Fills net->input from a batch in the stream's layout, scaled as the
 * original: uint8 pixels p become p * 2 / 255 - 1; float32 input is
 * taken as already scaled.
 *   src: (n, in_c, in_h, in_w), n <= batch. */
void mli_resnet_input_u8(struct mli_resnet *net, size_t n, const uint8_t *src);
void mli_resnet_input_f32(struct mli_resnet *net, size_t n, const float *src);

/* Forward pass on the first n images of net->input, writing
 * net->logits. With train nonzero, batch norm uses the batch's
 * statistics and updates the running ones (n >= 2); otherwise it uses
 * the running ones. pool must not be NULL (the convolutions need one;
 * make a pool of one thread for a single-threaded run). Returns 0,
 * MLI_EINVAL or MLI_ENOMEM. */
int mli_resnet_forward(struct mli_resnet *net, struct mli_pool *pool, size_t n, int train);

/* Backward pass after a training forward of the same n: given
 * net->dlogits, writes the gradients of every trainable, unfrozen
 * parameter into net->grads (overwriting). Returns 0 or MLI_ENOMEM. */
int mli_resnet_backward(struct mli_resnet *net, struct mli_pool *pool, size_t n);

/* The pooled features of the last forward pass: (n, features). */
const float *mli_resnet_features(const struct mli_resnet *net);

/* Multiply-accumulates of one image's forward pass. */
double mli_resnet_macs(const struct mli_resnet *net);

#endif

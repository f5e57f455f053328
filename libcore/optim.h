/* optim.h: momentum SGD with L2 weight decay and the original learning
 * rate schedule.
 *
 * Schedule (ML-Images train.py): for step < warmup,
 *   lr = lr_warmup * warmup_factor ^ floor(step / warmup_every)
 * (TensorFlow's staircase exponential_decay; warmup_every 0 keeps
 * lr_warmup); afterwards lr times 0.1 for every boundary in decay_steps
 * that step has reached (piecewise_constant).
 *
 * Update (TensorFlow's MomentumOptimizer on loss + wd * sum v^2 / 2 over
 * the variables that take decay):
 *   g = grad + wd * v;  m = momentum * m + g;  v = v - lr * m
 * for every trainable, unfrozen parameter. Batch-norm parameters take no
 * decay; the classifier's bias does, as in the original. */
#ifndef MLI_OPTIM_H
#define MLI_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "resnet.h"

#define MLI_LR_STEPS_MAX 16

struct mli_schedule {
	double lr;               /* base rate */
	double lr_warmup;        /* first warm-up rate */
	double warmup_factor;    /* 1.414 */
	uint64_t warmup;         /* warm-up steps; 0: none */
	uint64_t warmup_every;   /* steps between warm-up increases; 0: never */
	uint64_t decay_steps[MLI_LR_STEPS_MAX];
	int n_decay;
	double decay_factor;     /* 0.1 */
};

/* The learning rate at a step (counted from 0). */
double mli_schedule_lr(const struct mli_schedule *s, uint64_t step);

/* One update of every trainable, unfrozen parameter of net with its
 * gradient in net->grads; momentum: (net->n_floats) buffer at the
 * parameters' offsets, zero at the start. Threads over the pool by
 * parameter ranges (element-wise, so bit-identical at any thread count). */
void mli_sgd_step(struct mli_resnet *net, struct mli_pool *pool, float *momentum, float lr,
		  float mom, float weight_decay);

#endif

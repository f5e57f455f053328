/* optim.c: the learning-rate schedule and momentum SGD (see optim.h). */
#include <math.h>

#include "optim.h"

double mli_schedule_lr(const struct mli_schedule *s, uint64_t step)
{
	if (step < s->warmup) {
		double e = s->warmup_every ? (double)(step / s->warmup_every) : 0.0;
		return s->lr_warmup * pow(s->warmup_factor, e);
	}
	double lr = s->lr;
	for (int i = 0; i < s->n_decay; i++)
		if (step >= s->decay_steps[i])
			lr *= s->decay_factor;
	return lr;
}

struct sgd_job {
	struct mli_resnet *net;
	float *momentum;
	float lr, mom, wd;
};

static void sgd_part(void *arg, int ti, int tn)
{
	struct sgd_job *j = arg;
	struct mli_resnet *net = j->net;
	size_t b, e;

	/* Split the whole float range; each parameter's part of it is
	 * updated by whichever thread owns those floats. */
	mli_pool_split(net->n_floats, 16, ti, tn, &b, &e);
	for (size_t i = 0; i < net->n_param; i++) {
		const struct mli_param *p = &net->param[i];
		if (!p->trainable || p->frozen)
			continue;
		size_t lo = p->offset > b ? p->offset : b;
		size_t hi = p->offset + p->count < e ? p->offset + p->count : e;
		float wd = p->decay ? j->wd : 0.0f;
		float *v = net->params, *g = net->grads, *m = j->momentum;
		for (size_t x = lo; x < hi; x++) {
			float gx = g[x] + wd * v[x];
			m[x] = j->mom * m[x] + gx;
			v[x] -= j->lr * m[x];
		}
	}
}

void mli_sgd_step(struct mli_resnet *net, struct mli_pool *pool, float *momentum, float lr,
		  float mom, float weight_decay)
{
	struct sgd_job j = { net, momentum, lr, mom, weight_decay };
	mli_pool_run(pool, sgd_part, &j);
}

/* loss.c: the original multi-label loss and softmax (see loss.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "loss.h"
#include "nn.h"

int mli_loss_init(struct mli_loss *l, const struct mli_loss_config *cfg, size_t classes,
		  size_t batch)
{
	memset(l, 0, sizeof *l);
	l->cfg = *cfg;
	l->classes = classes;
	l->batch = batch;
	l->pos_count = calloc(classes, sizeof(float));
	l->neg_count = calloc(classes, sizeof(float));
	l->coef = calloc(classes, sizeof(float));
	l->weight = calloc(batch * classes, sizeof(float));
	l->labels = calloc(batch, sizeof(int));
	if (!l->pos_count || !l->neg_count || !l->coef || !l->weight || !l->labels) {
		mli_loss_free(l);
		return MLI_ENOMEM;
	}
	return 0;
}

void mli_loss_free(struct mli_loss *l)
{
	free(l->pos_count);
	free(l->neg_count);
	free(l->coef);
	free(l->weight);
	free(l->labels);
	memset(l, 0, sizeof *l);
}

/* The class coefficients coef_j of this batch, as loss.h writes them. */
static void class_coefficients(struct mli_loss *l, struct mli_rng *r, size_t n, const float *t)
{
	size_t k = l->classes;
	for (size_t j = 0; j < k; j++) {
		int pos = 0;
		for (size_t i = 0; i < n && !pos; i++)
			pos = t[i * k + j] >= l->cfg.mask_thres;
		/* One draw per class per step, used or not, so that the stream
		 * of draws does not depend on the labels. */
		int sel = mli_rng_uniform(r) <= l->cfg.neg_select;
		if (pos) {
			l->pos_count[j] += 1.0f;
			l->neg_count[j] = 0.0f;
			float c = (float)-log10((0.01 + l->pos_count[j]) / 10.0);
			l->coef[j] = c > 0.01f ? c : 0.01f;
		} else {
			l->pos_count[j] = 0.0f;
			l->neg_count[j] += (float)sel;
			float c = (float)-log10((8.0 + l->neg_count[j]) / 10.0);
			l->coef[j] = sel ? (c > 0.01f ? c : 0.001f) : 0.0f;
		}
	}
}

double mli_loss_step(struct mli_loss *l, struct mli_rng *r, size_t n, const float *z,
		     const float *t, float *dz)
{
	size_t k = l->classes;

	if (l->cfg.kind == MLI_LOSS_SOFTMAX) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			const float *ti = t + i * k;
			int best = -1;
			float bv = 0.5f;
			for (size_t j = 0; j < k; j++) {
				if (ti[j] == -1.0f) {
					best = -1;
					break;
				}
				if (ti[j] >= bv && (best < 0 || ti[j] > bv)) {
					best = (int)j;
					bv = ti[j];
				}
			}
			l->labels[i] = best;
			kept += best >= 0;
		}
		if (!kept) {
			memset(dz, 0, n * k * sizeof *dz);
			return 0;
		}
		return mli_softmax_xent(n, k, z, l->labels, 1.0f / (float)kept, dz);
	}
	if (l->cfg.adaptive)
		class_coefficients(l, r, n, t);
	else
		for (size_t j = 0; j < k; j++)
			l->coef[j] = 1.0f;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < k; j++) {
			float tij = t[i * k + j];
			l->weight[i * k + j] = tij == -1.0f ? 0.0f : l->coef[j] / (float)n;
		}
	return mli_sigmoid_xent(n * k, z, t, l->weight, l->cfg.pos_weight, 1.0f, dz);
}

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
	l->pos = calloc(classes, sizeof(int32_t));
	if (!l->pos_count || !l->neg_count || !l->coef || !l->weight || !l->labels || !l->pos) {
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
	free(l->pos);
	memset(l, 0, sizeof *l);
}

void mli_loss_positives(const struct mli_loss *l, size_t n, const float *t, int32_t *pos)
{
	size_t k = l->classes;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < k; j++)
			if (t[i * k + j] >= l->cfg.mask_thres)
				pos[j] = 1;
}

/* The softmax label of each row (loss.h), into labels; returns the count
 * of labelled rows. */
static size_t softmax_labels(size_t n, size_t k, const float *t, int *labels)
{
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
		if (labels)
			labels[i] = best;
		kept += best >= 0;
	}
	return kept;
}

size_t mli_loss_rows(const struct mli_loss *l, size_t n, const float *t)
{
	if (l->cfg.kind == MLI_LOSS_SOFTMAX)
		return softmax_labels(n, l->classes, t, NULL);
	return n;
}

/* The class coefficients coef_j of this step, as loss.h writes them. */
void mli_loss_begin(struct mli_loss *l, struct mli_rng *r, const int32_t *pos)
{
	size_t k = l->classes;
	if (l->cfg.kind == MLI_LOSS_SOFTMAX)
		return;
	if (!l->cfg.adaptive) {
		for (size_t j = 0; j < k; j++)
			l->coef[j] = 1.0f;
		return;
	}
	for (size_t j = 0; j < k; j++) {
		/* One draw per class per step, used or not, so that the stream
		 * of draws does not depend on the labels. */
		int sel = mli_rng_uniform(r) <= l->cfg.neg_select;
		if (pos[j]) {
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

double mli_loss_part(struct mli_loss *l, size_t n, const float *z, const float *t, size_t rows,
		     float *dz)
{
	size_t k = l->classes;

	if (!rows) {
		memset(dz, 0, n * k * sizeof *dz);
		return 0;
	}
	if (l->cfg.kind == MLI_LOSS_SOFTMAX) {
		softmax_labels(n, k, t, l->labels);
		return mli_softmax_xent(n, k, z, l->labels, 1.0f / (float)rows, dz);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < k; j++) {
			float tij = t[i * k + j];
			l->weight[i * k + j] = tij == -1.0f ? 0.0f : l->coef[j] / (float)rows;
		}
	return mli_sigmoid_xent(n * k, z, t, l->weight, l->cfg.pos_weight, 1.0f, dz);
}

double mli_loss_step(struct mli_loss *l, struct mli_rng *r, size_t n, const float *z,
		     const float *t, float *dz)
{
	memset(l->pos, 0, l->classes * sizeof *l->pos);
	mli_loss_positives(l, n, t, l->pos);
	mli_loss_begin(l, r, l->pos);
	return mli_loss_part(l, n, z, t, mli_loss_rows(l, n, t), dz);
}

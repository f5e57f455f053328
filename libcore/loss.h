/* loss.h: the training losses over a batch's dense label matrix.
 *
 * The multi-label loss is the original one (ML-Images train.py). For a
 * batch of n images and k classes with labels t (confidence in [0, 1],
 * or -1 for "ignore"), per class j:
 *   pos_j   = 1 when some image has t >= mask_thres for class j, else 0;
 *   sel_j   = 1 when a uniform draw u_j <= neg_select (one draw per class
 *             per step), else 0;
 *   P_j     = pos_j ? P_j + 1 : 0   (consecutive batches with j positive)
 *   N_j     = pos_j ? 0 : N_j + sel_j   (consecutive selected negatives)
 *   cpos_j  = max(-log10((0.01 + P_j) / 10), 0.01)   (when pos_j)
 *   cneg_j  = -log10((8 + N_j) / 10), or 0.001 when that is <= 0.01
 *             (when not pos_j and sel_j)
 *   coef_j  = pos_j * cpos_j + (1 - pos_j) * sel_j * cneg_j
 * and with l(z, t) the weighted sigmoid cross-entropy of nn.h with
 * positive weight 12 and m_ij = (t_ij != -1):
 *   L = sum_j coef_j * (1/n) sum_i m_ij * l(z_ij, t_ij).
 * With fixed class weights, coef_j = 1 for every class and every
 * negative counts (no selection, no running counts).
 *
 * The softmax loss (fine-tuning on single-label data) takes each row's
 * label as the class with the largest target (ties to the lowest index;
 * a row whose targets are all below 0.5 or that holds a -1 is ignored)
 * and averages the cross-entropy over the rows kept.
 *
 * A step whose batch is spread over parts (the ranks of mli-train --mpi,
 * the parts of --split) is the same loss over the whole batch: the
 * positives pos_j are those of the whole batch (every part's flags
 * or-ed), the coefficients are drawn once per step, and each part
 * divides by the whole batch's row count, so that the parts' losses and
 * gradients add up to the whole batch's. mli_loss_step() is that with
 * one part. */
#ifndef MLI_LOSS_H
#define MLI_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "random.h"

enum mli_loss_kind { MLI_LOSS_MULTILABEL, MLI_LOSS_SOFTMAX };

struct mli_loss_config {
	enum mli_loss_kind kind;
	int adaptive;        /* the class coefficients of the original; 0: all 1 */
	float pos_weight;    /* 12 */
	float neg_select;    /* 0.3 */
	float mask_thres;    /* 0.7 */
};

struct mli_loss {
	struct mli_loss_config cfg;
	size_t classes, batch;
	float *pos_count;    /* (classes) P_j: saved in checkpoints */
	float *neg_count;    /* (classes) N_j: saved in checkpoints */
	float *coef;         /* (classes) this step's coef_j */
	float *weight;       /* (batch, classes) per-element weights */
	int *labels;         /* (batch) softmax labels */
	int32_t *pos;        /* (classes) scratch of mli_loss_step */
};

/* Allocates the state for batches of up to `batch` rows. 0 or MLI_ENOMEM. */
int mli_loss_init(struct mli_loss *l, const struct mli_loss_config *cfg, size_t classes,
		  size_t batch);
void mli_loss_free(struct mli_loss *l);

/* The loss of one batch and dL/dz into dz (n, classes), updating the
 * running counts (multi-label, adaptive) and drawing the negative
 * selection from r.
 *   z: (n, classes) logits; t: (n, classes) targets. */
double mli_loss_step(struct mli_loss *l, struct mli_rng *r, size_t n, const float *z,
		     const float *t, float *dz);

/* The same step in parts (see above):
 *   mli_loss_positives  sets pos[j] to 1 where some row of t (n, classes)
 *                       counts as positive (t >= mask_thres); leaves the
 *                       other entries as they are, so that calls over
 *                       several parts or-ed together;
 *   mli_loss_rows       the rows of t the loss averages over: n for the
 *                       multi-label loss, the labelled rows for softmax;
 *   mli_loss_begin      this step's class coefficients from the whole
 *                       batch's pos (classes), drawing the negative
 *                       selection from r (once per step, on every part);
 *   mli_loss_part       the loss of n rows and dL/dz into dz (n, classes),
 *                       divided by `rows`, the whole batch's
 *                       mli_loss_rows (0: no loss, dz zero). */
void mli_loss_positives(const struct mli_loss *l, size_t n, const float *t, int32_t *pos);
size_t mli_loss_rows(const struct mli_loss *l, size_t n, const float *t);
void mli_loss_begin(struct mli_loss *l, struct mli_rng *r, const int32_t *pos);
double mli_loss_part(struct mli_loss *l, size_t n, const float *z, const float *t, size_t rows,
		     float *dz);

#endif

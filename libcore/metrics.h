/* metrics.h: multi-label and single-label evaluation metrics.
 *
 * Scores are logits: ranking by float32 probabilities would tie every
 * logit above about 17 (the sigmoid rounds to exactly 1) and collapse AP.
 * A target t of an (image, class) pair is positive when t >= the label
 * threshold, negative when 0 <= t < threshold, and ignored when t < 0
 * (the stream's -1): an ignored pair counts nowhere, neither in a ranking
 * nor as a prediction.
 *
 * Definitions (man/mli-eval.1 writes them out for the user):
 *   AP of a class: rank its non-ignored images by logit, highest first.
 *     Images whose logits are equal form one group and are retrieved
 *     together; for every group g with p_g positives, precision P_g is
 *     (positives up to and including g) / (images up to and including g).
 *     AP = sum over groups of p_g * P_g, divided by the class's
 *     positives. This is the non-interpolated AP with ties handled
 *     deterministically (it does not depend on the order of input: it is
 *     scikit-learn's average_precision_score). Undefined (NaN) for a
 *     class without positives; mAP is the mean over classes with
 *     positives.
 *   Predicted positive at a threshold p: logit >= log(p / (1 - p)).
 *   Predicted positive in top k: among the k highest logits of its image
 *     (equal logits: the lower class index first).
 *   Per class c: TP_c (predicted and positive), PRED_c (predicted),
 *     POS_c (positive). CP = mean over classes with positives of
 *     TP_c / PRED_c (0 when PRED_c = 0); CR = mean over the same classes
 *     of TP_c / POS_c; CF1 = 2 CP CR / (CP + CR). OP = sum TP_c / sum
 *     PRED_c; OR = sum TP_c / sum POS_c; OF1 = 2 OP OR / (OP + OR).
 *     An F1 whose precision and recall are both 0 is 0.
 *   Top-k accuracy: the share of images with at least one positive whose
 *     k highest logits (ties as above) include a positive. On
 *     single-label data this is the usual top-1 / top-5 accuracy.
 *
 * Memory: an accumulator keeps every score for AP: N x C floats plus
 * N x C bytes of labels (5 bytes per pair) and O(C) counters; it refuses
 * (MLI_ENOMEM) an image that would take it past the bound it was made
 * with. Threshold and top-k metrics alone need only the counters. */
#ifndef MLI_METRICS_H
#define MLI_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* One class's ranking entry. */
struct mli_ap_item {
	float score;           /* the logit */
	int8_t positive;       /* 1 positive, 0 negative */
};

/* The non-interpolated AP of n items (ignored pairs left out by the
 * caller), as defined above. Sorts items in place (by score, highest
 * first; NaN scores rank below every other, as one group). Returns the AP, or NaN when no item is positive; *positives
 * (if not NULL) gets the count of positive items. */
double mli_average_precision(struct mli_ap_item *items, size_t n, size_t *positives);

/* Writes the indices of the k highest of the n scores into top (k <=
 * n), highest first; equal scores: the lower index first. */
void mli_top_k(const float *score, size_t n, size_t k, uint32_t *top);

/* The logit a probability threshold p in (0, 1) compares against. */
double mli_logit_threshold(double p);

struct mli_metrics_options {
	size_t classes;
	double threshold;        /* probability for CP..OF1 at a threshold: 0.5 */
	size_t top_k;            /* k for CP..OF1 over the top k: 3 */
	float label_threshold;   /* target >= this is positive: 0.5 */
	int want_ap;             /* keep scores for AP (the N x C store) */
	size_t max_bytes;        /* bound of the AP store */
};

/* Precision/recall counters of one prediction rule. */
struct mli_prf {
	double cp, cr, cf1, op, or_, of1;
};

struct mli_class_result {
	uint64_t positives, negatives, ignored;
	uint64_t tp, predicted;          /* at the threshold */
	uint64_t tp_top, predicted_top;  /* in the top k */
	double ap;                       /* NaN without positives or AP */
};

struct mli_metrics_result {
	uint64_t images;             /* images seen */
	uint64_t images_positive;    /* images with at least one positive */
	uint64_t single_label;       /* images with exactly one positive */
	uint64_t positives, negatives, ignored;  /* (image, class) pairs */
	size_t classes, classes_positive;
	double map;                  /* NaN when no class has positives or no AP */
	struct mli_prf at_threshold, top;
	double top1, top5;           /* top-k accuracy; NaN without positives */
	struct mli_class_result *per_class;  /* (classes), owned by the accumulator */
};

struct mli_metrics;

/* Makes an accumulator. Returns 0, MLI_EINVAL (no classes, a threshold
 * outside (0, 1), top_k of 0) or MLI_ENOMEM. */
int mli_metrics_create(struct mli_metrics **m, const struct mli_metrics_options *opt);
void mli_metrics_free(struct mli_metrics *m);

/* Adds n images.
 *   logits: (n, classes); target: (n, classes), -1 (any negative) ignored.
 * Returns 0, or MLI_ENOMEM when the AP store would pass max_bytes (or
 * cannot grow); nothing of this call is then added. */
int mli_metrics_add(struct mli_metrics *m, size_t n, const float *logits, const float *target);

/* Computes the results of everything added so far into *r (per_class
 * stays valid until the next call or mli_metrics_free). Returns 0 or
 * MLI_ENOMEM. */
int mli_metrics_result(struct mli_metrics *m, struct mli_metrics_result *r);

/* Bytes the AP store holds now. */
size_t mli_metrics_bytes(const struct mli_metrics *m);

#endif

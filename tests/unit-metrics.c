/* unit-metrics.c: AP, precision/recall/F1 and top-k on cases computed by
 * hand (the arithmetic is in the comments). */
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "featvec.h"
#include "metrics.h"
#include "tap.h"

#define ASSERT_NEAR(a, b)                                                     \
	do {                                                                  \
		double a2_ = (a), b2_ = (b);                                  \
		if (!(fabs(a2_ - b2_) < 1e-9))                                \
			TAP_FAIL("%s == %.12g, expected %.12g", #a, a2_, b2_); \
	} while (0)

static double ap_of(const float *s, const int8_t *pos, size_t n)
{
	struct mli_ap_item it[16];
	size_t i;

	for (i = 0; i < n; i++) {
		it[i].score = s[i];
		it[i].positive = pos[i];
	}
	return mli_average_precision(it, n, NULL);
}

/* Positives at ranks 1, 3, 5: (1/1 + 2/3 + 3/5) / 3 = 34/45. */
static void ap_without_ties(struct tap *tap)
{
	float s[] = { 0.6f, 0.9f, 0.5f, 0.8f, 0.7f };
	int8_t p[] = { 0, 1, 1, 0, 1 };
	struct mli_ap_item it[5];
	size_t i, npos = 0;

	for (i = 0; i < 5; i++) {
		it[i].score = s[i];
		it[i].positive = p[i];
	}
	ASSERT_NEAR(mli_average_precision(it, 5, &npos), 34.0 / 45);
	ASSERT_EQ(npos, 3);
}

/* Equal scores are one group retrieved together: {2: neg}, {1: pos, pos,
 * neg}, {0: pos}: (2 * 2/4 + 1 * 3/5) / 3 = 1.6 / 3, whatever the order
 * of the tied items. */
static void ap_with_ties_is_order_free(struct tap *tap)
{
	float s1[] = { 2, 1, 1, 1, 0 };
	int8_t p1[] = { 0, 1, 1, 0, 1 };
	float s2[] = { 1, 0, 1, 2, 1 };
	int8_t p2[] = { 0, 1, 1, 0, 1 };

	ASSERT_NEAR(ap_of(s1, p1, 5), 1.6 / 3);
	ASSERT_NEAR(ap_of(s2, p2, 5), 1.6 / 3);
}

/* Everything tied: AP is the share of positives (2/5). */
static void ap_all_tied_is_prevalence(struct tap *tap)
{
	float s[] = { 3, 3, 3, 3, 3 };
	int8_t p[] = { 1, 0, 0, 1, 0 };

	ASSERT_NEAR(ap_of(s, p, 5), 0.4);
}

/* NaN scores rank last as one group (a NaN used to stop the tie loop
 * from moving): 2, 1, then {NaN, NaN, NaN}:
 * (1/1 + 3/5 * 2) / 3: three positives, two of them scored NaN. */
static void ap_puts_nan_scores_last(struct tap *tap)
{
	float s[] = { NAN, 2, NAN, 1, NAN };
	int8_t p[] = { 1, 1, 1, 0, 0 };

	ASSERT_NEAR(ap_of(s, p, 5), (1.0 + 3.0 / 5 * 2) / 3);
}

/* Logits 30, 20, 18 all have a float32 sigmoid of exactly 1; ranked by
 * logit they stay apart: (1 + 2/3) / 2. */
static void ap_ranks_large_logits_apart(struct tap *tap)
{
	float s[] = { 30, 20, 18 };
	int8_t p[] = { 1, 0, 1 };

	ASSERT(1.0f / (1.0f + expf(-18.0f)) == 1.0f);
	ASSERT_NEAR(ap_of(s, p, 3), 5.0 / 6);
}

static void ap_without_positives_is_nan(struct tap *tap)
{
	float s[] = { 1, 2 };
	int8_t p[] = { 0, 0 };
	struct mli_ap_item it[1];
	size_t npos = 9;

	ASSERT(isnan(ap_of(s, p, 2)));
	ASSERT(isnan(mli_average_precision(it, 0, &npos)));
	ASSERT_EQ(npos, 0);
}

static void top_k_breaks_ties_by_index(struct tap *tap)
{
	float s[] = { 1, 3, 3, 2, 3 };
	uint32_t top[5];

	mli_top_k(s, 5, 3, top);
	ASSERT_EQ(top[0], 1);
	ASSERT_EQ(top[1], 2);
	ASSERT_EQ(top[2], 4);
	mli_top_k(s, 5, 5, top);
	ASSERT_EQ(top[3], 3);
	ASSERT_EQ(top[4], 0);
	mli_top_k(s, 5, 1, top);
	ASSERT_EQ(top[0], 1);
}

static struct mli_metrics_options options(size_t classes, size_t k)
{
	struct mli_metrics_options o = { classes, 0.5, k, 0.5f, 1, (size_t)1 << 30 };

	return o;
}

/* Four images, three classes (-1 ignores image 1's class 2):
 *   logits            target
 *   [ 2, -1,  0.5]    [1, 0,  1]
 *   [-2,  1, -1  ]    [0, 1, -1]
 *   [ 1,  1, -3  ]    [0, 0,  0]
 *   [ 0, -0.5, 4 ]    [1, 0,  0]
 * AP: class 0 ranks 2+ 1- 0+ -2-: (1 + 2/3) / 2 = 5/6; class 1 ties the
 * positive with a negative at 1: 1/2; class 2 ranks 4- 0.5+: 1/2 (the
 * ignored pair is left out). mAP = (5/6 + 1/2 + 1/2) / 3 = 11/18.
 * Threshold 0.5 (logit >= 0): TP/PRED/POS = 2/3/2, 1/2/1, 1/2/1;
 *   CP = (2/3 + 1/2 + 1/2) / 3 = 5/9, CR = 1, CF1 = 5/7;
 *   OP = 4/7, OR = 1, OF1 = 8/11.
 * Top 1: image 2's tie goes to class 0; predictions 0, 1, 0, 2:
 *   TP/PRED = 1/2, 1/1, 0/1: CP = (1/2 + 1 + 0) / 3 = 1/2,
 *   CR = (1/2 + 1 + 0) / 3 = 1/2; OP = 2/4, OR = 2/4.
 * Top-1 accuracy over images 0, 1, 3: 2/3; top-5 (all 3 classes): 1. */
static void accumulator_on_hand_case(struct tap *tap)
{
	float z[] = { 2, -1, 0.5f, -2, 1, -1, 1, 1, -3, 0, -0.5f, 4 };
	float t[] = { 1, 0, 1, 0, 1, -1, 0, 0, 0, 1, 0, 0 };
	struct mli_metrics_options o = options(3, 1);
	struct mli_metrics *m;
	struct mli_metrics_result r;

	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	/* Two calls: the result must not depend on how batches split. */
	ASSERT_EQ(mli_metrics_add(m, 1, z, t), 0);
	ASSERT_EQ(mli_metrics_add(m, 3, z + 3, t + 3), 0);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT_EQ(r.images, 4);
	ASSERT_EQ(r.images_positive, 3);
	ASSERT_EQ(r.single_label, 2);
	ASSERT_EQ(r.positives, 4);
	ASSERT_EQ(r.negatives, 7);
	ASSERT_EQ(r.ignored, 1);
	ASSERT_EQ(r.classes_positive, 3);
	ASSERT_NEAR(r.per_class[0].ap, 5.0 / 6);
	ASSERT_NEAR(r.per_class[1].ap, 0.5);
	ASSERT_NEAR(r.per_class[2].ap, 0.5);
	ASSERT_NEAR(r.map, 11.0 / 18);
	ASSERT_EQ(r.per_class[0].predicted, 3);
	ASSERT_EQ(r.per_class[0].tp, 2);
	ASSERT_NEAR(r.at_threshold.cp, 5.0 / 9);
	ASSERT_NEAR(r.at_threshold.cr, 1);
	ASSERT_NEAR(r.at_threshold.cf1, 5.0 / 7);
	ASSERT_NEAR(r.at_threshold.op, 4.0 / 7);
	ASSERT_NEAR(r.at_threshold.or_, 1);
	ASSERT_NEAR(r.at_threshold.of1, 8.0 / 11);
	ASSERT_EQ(r.per_class[0].predicted_top, 2);
	ASSERT_EQ(r.per_class[2].predicted_top, 1);
	ASSERT_EQ(r.per_class[2].tp_top, 0);
	ASSERT_NEAR(r.top.cp, 0.5);
	ASSERT_NEAR(r.top.cr, 0.5);
	ASSERT_NEAR(r.top.cf1, 0.5);
	ASSERT_NEAR(r.top.op, 0.5);
	ASSERT_NEAR(r.top.or_, 0.5);
	ASSERT_NEAR(r.top1, 2.0 / 3);
	ASSERT_NEAR(r.top5, 1);
	mli_metrics_free(m);
}

/* A class without positives counts in no mean: classes 0 and 2 only have
 * negatives here, class 1 has AP 1, so mAP is 1 and CP/CR average over
 * class 1 alone, although class 0 makes a false prediction (which OP
 * does count: 1/2). */
static void classes_without_positives_are_left_out(struct tap *tap)
{
	float z[] = { 1, 2, -1, -1, -2, -3 };
	float t[] = { 0, 1, 0, 0, 0, 0 };
	struct mli_metrics_options o = options(3, 1);
	struct mli_metrics *m;
	struct mli_metrics_result r;

	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	ASSERT_EQ(mli_metrics_add(m, 2, z, t), 0);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT_EQ(r.classes_positive, 1);
	ASSERT(isnan(r.per_class[0].ap));
	ASSERT(isnan(r.per_class[2].ap));
	ASSERT_NEAR(r.map, 1);
	ASSERT_NEAR(r.at_threshold.cp, 1);
	ASSERT_NEAR(r.at_threshold.cr, 1);
	ASSERT_NEAR(r.at_threshold.op, 0.5);
	ASSERT_NEAR(r.top1, 1);
	mli_metrics_free(m);
}

/* An ignored pair is no prediction even in the top k: the single image's
 * top class 0 is ignored, so class 0 has PRED 0 and class 1 (positive,
 * ranked second) is missed; top-1 accuracy is 0, top-5 is 1. Ignoring
 * every label of a class makes it one without positives. */
static void ignored_labels_count_nowhere(struct tap *tap)
{
	float z[] = { 5, 1 };
	float t[] = { -1, 1 };
	struct mli_metrics_options o = options(2, 1);
	struct mli_metrics *m;
	struct mli_metrics_result r;

	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	ASSERT_EQ(mli_metrics_add(m, 1, z, t), 0);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT_EQ(r.per_class[0].predicted_top, 0);
	ASSERT_EQ(r.per_class[0].predicted, 0);
	ASSERT_EQ(r.per_class[0].ignored, 1);
	ASSERT(isnan(r.per_class[0].ap));
	ASSERT_EQ(r.classes_positive, 1);
	ASSERT_NEAR(r.top.cr, 0);
	ASSERT_NEAR(r.top.op, 0);
	ASSERT_NEAR(r.at_threshold.op, 1);
	ASSERT_NEAR(r.top1, 0);
	ASSERT_NEAR(r.top5, 1);
	ASSERT_NEAR(r.map, 1);
	mli_metrics_free(m);
}

/* Labels between 0 and the label threshold are negatives. */
static void label_threshold_splits_confidences(struct tap *tap)
{
	float z[] = { 1, 0.5f };
	float t[] = { 0.4f, 0.9f };
	struct mli_metrics_options o = options(1, 1);
	struct mli_metrics *m;
	struct mli_metrics_result r;

	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	ASSERT_EQ(mli_metrics_add(m, 2, z, t), 0);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT_EQ(r.positives, 1);
	ASSERT_EQ(r.negatives, 1);
	ASSERT_NEAR(r.map, 0.5);
	mli_metrics_free(m);
}

/* The store holds 10 bytes per image of 2 classes; 35 bytes hold 3
 * images, and a fourth is refused without being counted. */
static void memory_bound_is_kept(struct tap *tap)
{
	float z[8] = { 0 }, t[8] = { 0 };
	struct mli_metrics_options o = options(2, 1);
	struct mli_metrics *m;
	struct mli_metrics_result r;

	o.max_bytes = 35;
	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	ASSERT_EQ(mli_metrics_add(m, 2, z, t), 0);
	ASSERT_EQ(mli_metrics_add(m, 1, z, t), 0);
	ASSERT(mli_metrics_bytes(m) <= 35);
	ASSERT_EQ(mli_metrics_add(m, 1, z, t), MLI_ENOMEM);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT_EQ(r.images, 3);
	mli_metrics_free(m);
	o.want_ap = 0;
	ASSERT_EQ(mli_metrics_create(&m, &o), 0);
	ASSERT_EQ(mli_metrics_add(m, 4, z, t), 0);
	ASSERT_EQ(mli_metrics_bytes(m), 0);
	ASSERT_EQ(mli_metrics_result(m, &r), 0);
	ASSERT(isnan(r.map));
	mli_metrics_free(m);
}

static void bad_options_are_refused(struct tap *tap)
{
	struct mli_metrics_options o = options(0, 1);
	struct mli_metrics *m;

	ASSERT_EQ(mli_metrics_create(&m, &o), MLI_EINVAL);
	o = options(2, 0);
	ASSERT_EQ(mli_metrics_create(&m, &o), MLI_EINVAL);
	o = options(2, 1);
	o.threshold = 1;
	ASSERT_EQ(mli_metrics_create(&m, &o), MLI_EINVAL);
	ASSERT_NEAR(mli_logit_threshold(0.5), 0);
	ASSERT_NEAR(mli_logit_threshold(0.75), log(3.0));
}

/* Views of one key are averaged only when allowed to merge: rows
 * (1, 2), (3, 6) of "a" average to (2, 4); "b" follows alone; a new
 * "b" row that may not merge (view 0) finishes the first "b". */
static void ten_crop_rows_average(struct tap *tap)
{
	struct mli_featavg a;
	float r1[] = { 1, 2 }, r2[] = { 3, 6 }, r3[] = { 5, 5 }, r4[] = { 7, 9 };

	ASSERT_EQ(mli_featavg_init(&a, 2), 0);
	ASSERT_EQ(mli_featavg_add(&a, "a", 1, 0, r1), 0);
	ASSERT_EQ(mli_featavg_add(&a, "a", 1, 1, r2), 0);
	ASSERT_EQ(mli_featavg_add(&a, "b", 1, 1, r3), 1);
	ASSERT(strcmp(a.out_key, "a") == 0);
	ASSERT_NEAR(a.out[0], 2);
	ASSERT_NEAR(a.out[1], 4);
	ASSERT_EQ(mli_featavg_add(&a, "b", 1, 0, r4), 1);
	ASSERT(strcmp(a.out_key, "b") == 0);
	ASSERT_NEAR(a.out[0], 5);
	ASSERT_EQ(mli_featavg_flush(&a), 1);
	ASSERT_NEAR(a.out[1], 9);
	ASSERT_EQ(mli_featavg_flush(&a), 0);
	mli_featavg_free(&a);
}

int main(void)
{
	struct tap t = { 0 }, *tap = &t;

	RUN(ap_without_ties);
	RUN(ap_with_ties_is_order_free);
	RUN(ap_all_tied_is_prevalence);
	RUN(ap_ranks_large_logits_apart);
	RUN(ap_puts_nan_scores_last);
	RUN(ap_without_positives_is_nan);
	RUN(top_k_breaks_ties_by_index);
	RUN(accumulator_on_hand_case);
	RUN(classes_without_positives_are_left_out);
	RUN(ignored_labels_count_nowhere);
	RUN(label_threshold_splits_confidences);
	RUN(memory_bound_is_kept);
	RUN(bad_options_are_refused);
	RUN(ten_crop_rows_average);
	return tap_done(tap);
}

/* unit-loss.c: the original multi-label loss against cases computed by
 * hand (the class coefficients over consecutive batches, the negative
 * selection, the mask threshold, labels of -1), fixed class weights, and
 * the softmax loss's label choice; a step in parts (the ranks of --mpi,
 * the parts of --split) equal to the step over the whole batch. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "loss.h"
#include "random.h"
#include "tap.h"

static int near(double a, double b)
{
	return fabs(a - b) <= 1e-5 * (1 + fabs(b));
}

/* l(z, t) of nn.h with positive weight 12, in double. */
static double wxent(double z, double t)
{
	return (1 - t) * z + (1 + 11 * t) * log1p(exp(-z));
}

static void test_adaptive_coefficients_by_hand(struct tap *tap)
{
	struct mli_loss_config cfg = { MLI_LOSS_MULTILABEL, 1, 12.0f, 1.0f, 0.7f };
	struct mli_loss l;
	struct mli_rng r;
	/* 2 images, 3 classes. Class 0 positive (1.0), class 1 only 0.6
	 * (below the 0.7 threshold: a negative for the counts), class 2
	 * ignored in image 0 and negative in image 1. */
	float t[6] = { 1.0f, 0.6f, -1.0f, 0.0f, 0.0f, 0.0f };
	float z[6] = { 0.5f, -0.2f, 3.0f, -1.0f, 0.1f, 0.4f };
	float dz[6];

	mli_rng_init(&r, 1, NULL, 0, 0);
	ASSERT_EQ(mli_loss_init(&l, &cfg, 3, 2), 0);
	/* neg_select 1: every negative class is selected. Step 1: P0 = 1,
	 * N1 = N2 = 1. */
	double got = mli_loss_step(&l, &r, 2, z, t, dz);
	double c0 = -log10(1.01 / 10), cn = -log10(9.0 / 10);
	ASSERT(near(l.coef[0], c0) && near(l.coef[1], cn) && near(l.coef[2], cn));
	double want = c0 * (wxent(0.5, 1) + wxent(-1, 0)) / 2 +
		      cn * (wxent(-0.2, 0.6) + wxent(0.1, 0)) / 2 + cn * wxent(0.4, 0) / 2;
	printf("# step 1: loss %.7f, by hand %.7f\n", got, want);
	ASSERT(near(got, want));
	/* dL/dz for the ignored label is 0; for z = 0.5, t = 1:
	 * c0 / 2 * (1 - t - (1 + 11 t) sigmoid(-z)). */
	ASSERT(dz[2] == 0.0f);
	ASSERT(near(dz[0], c0 / 2 * (0 - 12 / (1 + exp(0.5)))));
	/* Step 2, same labels: P0 = 2, N = 2 gives -log10(1) = 0 <= 0.01,
	 * so the negative floor 0.001. */
	mli_loss_step(&l, &r, 2, z, t, dz);
	ASSERT(near(l.pos_count[0], 2) && near(l.neg_count[1], 2));
	ASSERT(near(l.coef[0], -log10(2.01 / 10)));
	ASSERT(near(l.coef[1], 0.001));
	/* Ten positive batches in a row: the positive coefficient sits at
	 * its 0.01 floor (the trap of dense labels). */
	for (int i = 0; i < 8; i++)
		mli_loss_step(&l, &r, 2, z, t, dz);
	ASSERT(near(l.pos_count[0], 10));
	ASSERT(near(l.coef[0], 0.01));
	/* Class 1 turns positive: its negative run resets, P1 = 1. */
	t[1] = 0.7f;
	mli_loss_step(&l, &r, 2, z, t, dz);
	ASSERT(near(l.pos_count[1], 1) && l.neg_count[1] == 0.0f);
	ASSERT(near(l.coef[1], c0));
	mli_loss_free(&l);
}

static void test_negative_selection(struct tap *tap)
{
	struct mli_loss_config cfg = { MLI_LOSS_MULTILABEL, 1, 12.0f, 0.3f, 0.7f };
	struct mli_loss l;
	struct mli_rng r, copy;
	enum { K = 1000 };
	float *t = calloc(2 * K, sizeof(float)), *z = calloc(2 * K, sizeof(float)),
	      *dz = calloc(2 * K, sizeof(float));
	size_t selected = 0, agree = 0;

	ASSERT_EQ(mli_loss_init(&l, &cfg, K, 2), 0);
	mli_rng_init(&r, 42, NULL, 0, 0);
	copy = r;
	mli_loss_step(&l, &r, 2, z, t, dz);
	for (size_t j = 0; j < K; j++) {
		int sel = mli_rng_uniform(&copy) <= 0.3;
		selected += l.coef[j] > 0;
		agree += sel == (l.coef[j] > 0);
		if (sel && !near(l.coef[j], -log10(0.9)))
			TAP_FAIL("class %zu: coefficient %g", j, l.coef[j]);
		if (!sel && dz[j] != 0.0f)
			TAP_FAIL("class %zu unselected but has a gradient", j);
	}
	printf("# %zu of %d negative classes selected\n", selected, K);
	ASSERT_EQ(agree, K);
	ASSERT(selected > 250 && selected < 350);
	mli_loss_free(&l);
	free(t);
	free(z);
	free(dz);
}

static void test_fixed_class_weights(struct tap *tap)
{
	struct mli_loss_config cfg = { MLI_LOSS_MULTILABEL, 0, 12.0f, 0.3f, 0.7f };
	struct mli_loss l;
	struct mli_rng r;
	float t[4] = { 1.0f, 0.0f, -1.0f, 0.3f }, z[4] = { 0.2f, 0.3f, -0.4f, 1.5f }, dz[4];

	mli_rng_init(&r, 1, NULL, 0, 0);
	ASSERT_EQ(mli_loss_init(&l, &cfg, 2, 2), 0);
	for (int s = 0; s < 20; s++) {
		double got = mli_loss_step(&l, &r, 2, z, t, dz);
		double want = (wxent(0.2, 1) + wxent(0.3, 0) + wxent(1.5, 0.3)) / 2;
		if (!near(got, want))
			TAP_FAIL("step %d: %g, by hand %g", s, got, want);
	}
	ASSERT(dz[2] == 0.0f);
	mli_loss_free(&l);
}

static void test_softmax_label_choice(struct tap *tap)
{
	struct mli_loss_config cfg = { MLI_LOSS_SOFTMAX, 0, 12.0f, 0.3f, 0.7f };
	struct mli_loss l;
	struct mli_rng r;
	/* Row 0: class 2; row 1: nothing >= 0.5, ignored; row 2: a -1. */
	float t[9] = { 0, 0, 1, 0.2f, 0.4f, 0, 1, -1, 0 };
	float z[9] = { 1, 2, 3, 0, 0, 0, 5, 5, 5 }, dz[9];

	mli_rng_init(&r, 1, NULL, 0, 0);
	ASSERT_EQ(mli_loss_init(&l, &cfg, 3, 3), 0);
	double got = mli_loss_step(&l, &r, 3, z, t, dz);
	double want = log(exp(1) + exp(2) + exp(3)) - 3;
	ASSERT(near(got, want));
	ASSERT(l.labels[0] == 2 && l.labels[1] == -1 && l.labels[2] == -1);
	ASSERT(dz[4] == 0.0f && dz[8] == 0.0f);
	mli_loss_free(&l);
}

/* A batch of 4 rows cut into parts of 1 and 3 rows: the positives
 * or-ed over the parts, the coefficients drawn once and each part divided
 * by the whole row count give the whole batch's loss, its dL/dz and its
 * running counts. */
static void test_parts_add_up_to_the_whole(struct tap *tap)
{
	for (int kind = 0; kind < 2; kind++) {
		struct mli_loss_config cfg = { kind ? MLI_LOSS_SOFTMAX : MLI_LOSS_MULTILABEL, 1, 12.0f,
					       0.5f, 0.7f };
		struct mli_loss whole, part;
		struct mli_rng r1, r2;
		/* 4 images, 3 classes: class 0 positive only in row 0 (the
		 * first part), class 2 only in row 3; row 2 ignored for softmax. */
		float t[12] = { 1, 0, 0, 0, 0.6f, 0, 0, -1, 0, 0, 0, 1 };
		float z[12] = { 0.5f, -1, 2, 0.3f, 0.2f, -0.7f, 1, 1, 1, -2, 0.1f, 0.9f };
		float dz1[12], dz2[12];
		int32_t pos[3] = { 0 };

		mli_rng_init(&r1, 9, NULL, 0, 0);
		r2 = r1;
		ASSERT_EQ(mli_loss_init(&whole, &cfg, 3, 4), 0);
		ASSERT_EQ(mli_loss_init(&part, &cfg, 3, 4), 0);
		double want = 0, got = 0;
		for (int step = 0; step < 3; step++) {
			want = mli_loss_step(&whole, &r1, 4, z, t, dz1);
			pos[0] = pos[1] = pos[2] = 0;
			mli_loss_positives(&part, 1, t, pos);
			mli_loss_positives(&part, 3, t + 3, pos);
			size_t rows = mli_loss_rows(&part, 1, t) + mli_loss_rows(&part, 3, t + 3);
			mli_loss_begin(&part, &r2, pos);
			got = mli_loss_part(&part, 1, z, t, rows, dz2) +
			      mli_loss_part(&part, 3, z + 3, t + 3, rows, dz2 + 3);
		}
		printf("# %s: whole %.7f, parts %.7f\n", kind ? "softmax" : "multilabel", want, got);
		ASSERT(near(got, want));
		ASSERT_EQ(mli_loss_rows(&part, 4, t), kind ? 3u : 4u);
		for (int i = 0; i < 12; i++)
			if (dz1[i] != dz2[i])
				TAP_FAIL("dz[%d]: whole %g, parts %g", i, dz1[i], dz2[i]);
		for (int j = 0; j < 3; j++)
			if (whole.pos_count[j] != part.pos_count[j] ||
			    whole.neg_count[j] != part.neg_count[j])
				TAP_FAIL("class %d: running counts differ", j);
		ASSERT(kind || (pos[0] && !pos[1] && pos[2]));
		ASSERT(kind || near(part.pos_count[0], 3));
		mli_loss_free(&whole);
		mli_loss_free(&part);
	}
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	RUN(test_adaptive_coefficients_by_hand);
	RUN(test_negative_selection);
	RUN(test_fixed_class_weights);
	RUN(test_softmax_label_choice);
	RUN(test_parts_add_up_to_the_whole);
	return tap_done(tap);
}

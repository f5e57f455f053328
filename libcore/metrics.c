/* metrics.c: AP, precision/recall/F1 and top-k accuracy (see metrics.h
 * for the definitions). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "metrics.h"

/* Whether two scores are one group: equal, or both NaN (a NaN equals
 * nothing, and a tie loop on == would never move past it). */
static int same_score(float x, float y)
{
	return x == y || (isnan(x) && isnan(y));
}

/* Highest score first, NaN last (a consistent order for qsort); the order
 * within equal scores does not matter because they are one group. */
static int item_cmp(const void *a, const void *b)
{
	float x = ((const struct mli_ap_item *)a)->score;
	float y = ((const struct mli_ap_item *)b)->score;

	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x < y) - (x > y);
}

double mli_average_precision(struct mli_ap_item *items, size_t n, size_t *positives)
{
	size_t pos_total = 0, pos_seen = 0, i, j;
	double sum = 0;

	for (i = 0; i < n; i++)
		pos_total += items[i].positive != 0;
	if (positives)
		*positives = pos_total;
	if (pos_total == 0)
		return NAN;
	qsort(items, n, sizeof *items, item_cmp);
	for (i = 0; i < n; i = j) {
		size_t group_pos = 0;

		for (j = i; j < n && same_score(items[j].score, items[i].score); j++)
			group_pos += items[j].positive != 0;
		pos_seen += group_pos;
		sum += (double)group_pos * (double)pos_seen / (double)j;
	}
	return sum / (double)pos_total;
}

void mli_top_k(const float *score, size_t n, size_t k, uint32_t *top)
{
	size_t have = 0, i, j;

	/* Insertion into a sorted list of k: k is small (at most a few). A
	 * later index never displaces an equal score, so the lower index wins
	 * ties. */
	for (i = 0; i < n; i++) {
		float s = score[i];

		if (have == k && !(s > score[top[k - 1]]))
			continue;
		j = have < k ? have++ : k - 1;
		while (j > 0 && s > score[top[j - 1]]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = (uint32_t)i;
	}
}

double mli_logit_threshold(double p)
{
	return log(p / (1 - p));
}

struct mli_metrics {
	struct mli_metrics_options opt;
	double logit_thr;
	size_t k_max;               /* max(top_k, 5), at most classes */
	uint32_t *top;              /* (k_max) scratch */
	struct mli_class_result *cls;   /* (classes) */
	uint64_t images, images_positive, single_label;
	uint64_t hit1, hit5;
	float *scores;              /* (n_store, classes) logits for AP */
	int8_t *labels;             /* (n_store, classes) 1, 0, -1 ignored */
	size_t n_store, cap_store;  /* images held, images allocated */
	struct mli_ap_item *items;  /* (n_store) scratch of a result */
};

int mli_metrics_create(struct mli_metrics **out, const struct mli_metrics_options *opt)
{
	struct mli_metrics *m;

	*out = NULL;
	if (opt->classes == 0 || opt->classes > UINT32_MAX || !(opt->threshold > 0) ||
	    !(opt->threshold < 1) || opt->top_k == 0)
		return MLI_EINVAL;
	m = calloc(1, sizeof *m);
	if (!m)
		return MLI_ENOMEM;
	m->opt = *opt;
	m->logit_thr = mli_logit_threshold(opt->threshold);
	m->k_max = opt->top_k > 5 ? opt->top_k : 5;
	if (m->k_max > opt->classes)
		m->k_max = opt->classes;
	m->top = malloc(m->k_max * sizeof *m->top);
	m->cls = calloc(opt->classes, sizeof *m->cls);
	if (!m->top || !m->cls) {
		mli_metrics_free(m);
		return MLI_ENOMEM;
	}
	*out = m;
	return 0;
}

void mli_metrics_free(struct mli_metrics *m)
{
	if (!m)
		return;
	free(m->top);
	free(m->cls);
	free(m->scores);
	free(m->labels);
	free(m->items);
	free(m);
}

size_t mli_metrics_bytes(const struct mli_metrics *m)
{
	return m->cap_store * m->opt.classes * (sizeof(float) + 1);
}

/* Makes room for n more images in the AP store, doubling up to the
 * bound. */
static int store_reserve(struct mli_metrics *m, size_t n)
{
	size_t c = m->opt.classes, need = m->n_store + n, cap = m->cap_store;
	size_t per_image = c * (sizeof(float) + 1);
	float *s;
	int8_t *l;

	if (need <= cap)
		return 0;
	if (need > m->opt.max_bytes / per_image)
		return MLI_ENOMEM;
	cap = cap ? cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > m->opt.max_bytes / per_image)
		cap = m->opt.max_bytes / per_image;
	s = realloc(m->scores, cap * c * sizeof *s);
	if (!s)
		return MLI_ENOMEM;
	m->scores = s;
	l = realloc(m->labels, cap * c);
	if (!l)
		return MLI_ENOMEM;
	m->labels = l;
	m->cap_store = cap;
	return 0;
}

int mli_metrics_add(struct mli_metrics *m, size_t n, const float *logits, const float *target)
{
	size_t c = m->opt.classes, i, j, k = m->opt.top_k < c ? m->opt.top_k : c;
	float lthr = m->opt.label_threshold;
	int rc;

	if (m->opt.want_ap && (rc = store_reserve(m, n)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const float *z = logits + i * c, *t = target + i * c;
		int8_t *lab = m->opt.want_ap ? m->labels + (m->n_store + i) * c : NULL;
		size_t npos = 0;
		int hit1 = 0, hit5 = 0;

		for (j = 0; j < c; j++) {
			struct mli_class_result *r = &m->cls[j];
			int8_t l = t[j] < 0 ? -1 : t[j] >= lthr ? 1 : 0;

			if (lab)
				lab[j] = l;
			if (l < 0) {
				r->ignored++;
				continue;
			}
			if (l) {
				r->positives++;
				npos++;
			} else {
				r->negatives++;
			}
			if (z[j] >= m->logit_thr) {
				r->predicted++;
				r->tp += (uint64_t)l;
			}
		}
		mli_top_k(z, c, m->k_max, m->top);
		for (j = 0; j < m->k_max; j++) {
			uint32_t cls = m->top[j];
			float tv = t[cls];
			int pos = tv >= lthr, ign = tv < 0;

			if (j < k && !ign) {
				m->cls[cls].predicted_top++;
				m->cls[cls].tp_top += (uint64_t)pos;
			}
			if (pos && j < 1)
				hit1 = 1;
			if (pos && j < 5)
				hit5 = 1;
		}
		m->images++;
		if (npos) {
			m->images_positive++;
			m->hit1 += (uint64_t)hit1;
			m->hit5 += (uint64_t)hit5;
		}
		m->single_label += npos == 1;
	}
	if (m->opt.want_ap) {
		memcpy(m->scores + m->n_store * c, logits, n * c * sizeof *logits);
		m->n_store += n;
	}
	return 0;
}

static double f1(double p, double r)
{
	return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

int mli_metrics_result(struct mli_metrics *m, struct mli_metrics_result *r)
{
	size_t c = m->opt.classes, i, j, with_pos = 0;
	double ap_sum = 0, cp = 0, cr = 0, cpt = 0, crt = 0;
	uint64_t tp = 0, pred = 0, pos = 0, tpt = 0, predt = 0, neg = 0, ign = 0;

	memset(r, 0, sizeof *r);
	if (m->opt.want_ap && m->n_store) {
		struct mli_ap_item *it = realloc(m->items, m->n_store * sizeof *it);

		if (!it)
			return MLI_ENOMEM;
		m->items = it;
	}
	for (j = 0; j < c; j++) {
		struct mli_class_result *cl = &m->cls[j];

		cl->ap = NAN;
		if (m->opt.want_ap) {
			size_t n = 0;

			for (i = 0; i < m->n_store; i++) {
				int8_t l = m->labels[i * c + j];

				if (l < 0)
					continue;
				m->items[n].score = m->scores[i * c + j];
				m->items[n].positive = l;
				n++;
			}
			cl->ap = mli_average_precision(m->items, n, NULL);
		}
		pos += cl->positives;
		neg += cl->negatives;
		ign += cl->ignored;
		tp += cl->tp;
		pred += cl->predicted;
		tpt += cl->tp_top;
		predt += cl->predicted_top;
		if (!cl->positives)
			continue;
		with_pos++;
		ap_sum += cl->ap;
		cp += cl->predicted ? (double)cl->tp / (double)cl->predicted : 0;
		cr += (double)cl->tp / (double)cl->positives;
		cpt += cl->predicted_top ? (double)cl->tp_top / (double)cl->predicted_top : 0;
		crt += (double)cl->tp_top / (double)cl->positives;
	}
	r->images = m->images;
	r->images_positive = m->images_positive;
	r->single_label = m->single_label;
	r->positives = pos;
	r->negatives = neg;
	r->ignored = ign;
	r->classes = c;
	r->classes_positive = with_pos;
	r->per_class = m->cls;
	r->map = with_pos && m->opt.want_ap ? ap_sum / (double)with_pos : NAN;
	if (with_pos) {
		r->at_threshold.cp = cp / (double)with_pos;
		r->at_threshold.cr = cr / (double)with_pos;
		r->top.cp = cpt / (double)with_pos;
		r->top.cr = crt / (double)with_pos;
	}
	r->at_threshold.cf1 = f1(r->at_threshold.cp, r->at_threshold.cr);
	r->top.cf1 = f1(r->top.cp, r->top.cr);
	r->at_threshold.op = pred ? (double)tp / (double)pred : 0;
	r->at_threshold.or_ = pos ? (double)tp / (double)pos : 0;
	r->at_threshold.of1 = f1(r->at_threshold.op, r->at_threshold.or_);
	r->top.op = predt ? (double)tpt / (double)predt : 0;
	r->top.or_ = pos ? (double)tpt / (double)pos : 0;
	r->top.of1 = f1(r->top.op, r->top.or_);
	r->top1 = m->images_positive ? (double)m->hit1 / (double)m->images_positive : NAN;
	r->top5 = m->images_positive ? (double)m->hit5 / (double)m->images_positive : NAN;
	return 0;
}

/* mli-eval: evaluate a checkpoint on BATCH records, print predictions or
 * extract features.
 *
 * Reads BATCH records on stdin, runs the network of the checkpoint in
 * inference mode (batch norm on its running statistics) and, by default,
 * accumulates the metrics of libcore/metrics.h, printed as a table or
 * JSON at the end. --predict writes the top classes of every image as
 * TSV instead; --features writes the pooled feature vectors as FEATURES
 * records, --features-npy as a .npy matrix (with the keys on stdout).
 * Batches larger than the first are run in pieces of the first's size. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "featvec.h"
#include "metrics.h"
#include "mli.h"
#include "program.h"
#include "trainstate.h"

static const char *const prog = "mli-eval";

enum mode { MODE_METRICS, MODE_PREDICT, MODE_FEATURES, MODE_NPY };

struct options {
	enum mode mode;
	const char *checkpoint;
	const char *dict;
	int json;
	int per_class;
	int propagate;
	double threshold;
	long top_k;
	double label_threshold;
	long predict_k;
	const char *npy;
	long threads;          /* -1: MLI_THREADS or one per CPU */
	uint64_t max_memory;
	int progress_mode;
};

struct eval {
	const struct options *opt;
	struct mli_ckpt *ckpt;
	struct mli_dictionary *dict;
	struct mli_resnet *net;
	struct mli_pool *pool;
	struct mli_metrics *metrics;
	struct mli_writer *w;
	struct mli_npy npy;
	struct mli_featavg avg;
	size_t classes;
	int softmax;           /* probabilities by softmax (trained so) */
	float *target;         /* (batch, classes) propagated labels */
	float *prob;           /* (classes) one image's probabilities */
	uint32_t *top;         /* (predict_k) */
	const char **keys;     /* (batch) this batch's keys */
	size_t *key_lens;
	size_t keys_cap;
	char *keybuf;          /* "BATCHKEY#i" when a batch has no KEYS */
	size_t keybuf_cap;
	const uint8_t *labels; /* this batch's BATCH_LABELS pairs, or NULL */
	size_t *label_at;      /* (batch + 1) image i's pairs: label_at[i] .. [i + 1] */
	size_t label_at_cap;
	struct mli_label *pend;    /* the labels of the image featavg holds */
	size_t n_pend, pend_cap;
	uint64_t images, batches;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s -c CHECKPOINT [-jpq] [--dict FILE] [--per-class] [--propagate]\n"
		"       [--threshold P] [--top K] [--label-threshold T] [--max-memory SIZE]\n"
		"       [--predict K | --features | --features-npy FILE] [--threads N] < batches\n"
		"Evaluate a checkpoint on BATCH records from stdin.\n"
		"\n"
		"  -c, --checkpoint FILE   the network (a safetensors file of mli-train)\n"
		"  -d, --dict FILE         class dictionary: names, and the hierarchy\n"
		"  -j, --json              metrics as JSON\n"
		"      --per-class         add the per-class table (AP, P, R, F1, counts)\n"
		"      --propagate         label every ancestor of a positive class (needs --dict)\n"
		"      --threshold P       probability that predicts a class (0.5)\n"
		"      --top K             CP..OF1 also over each image's top K classes (3)\n"
		"      --label-threshold T target counted as positive (0.5)\n"
		"      --max-memory SIZE   bound of the scores kept for AP (2G)\n"
		"      --predict K         TSV of each image's top K classes instead\n"
		"      --features          FEATURES records of the pooled vectors instead\n"
		"      --features-npy FILE the pooled vectors as a .npy; keys on stdout\n"
		"      --threads N         threads (MLI_THREADS, else one per CPU)\n"
		"  -p, --progress          progress on stderr even when it is not a terminal\n"
		"  -q, --quiet             no progress and no summary\n"
		"  -h, --help              show this help\n"
		"  -V, --version           show the version\n",
		prog);
}

enum {
	OPT_PER_CLASS = 256, OPT_PROPAGATE, OPT_THRESHOLD, OPT_TOP, OPT_LABEL_THRESHOLD,
	OPT_MAX_MEMORY, OPT_PREDICT, OPT_FEATURES, OPT_NPY, OPT_THREADS
};

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "dict", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "per-class", no_argument, NULL, OPT_PER_CLASS },
		{ "propagate", no_argument, NULL, OPT_PROPAGATE },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "label-threshold", required_argument, NULL, OPT_LABEL_THRESHOLD },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "predict", required_argument, NULL, OPT_PREDICT },
		{ "features", no_argument, NULL, OPT_FEATURES },
		{ "features-npy", required_argument, NULL, OPT_NPY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c, modes = 0;

	memset(o, 0, sizeof *o);
	o->threshold = 0.5;
	o->top_k = 3;
	o->label_threshold = 0.5;
	o->threads = -1;
	o->max_memory = (uint64_t)2 << 30;
	while ((c = getopt_long(argc, argv, "c:d:jpqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->checkpoint = optarg; break;
		case 'd': o->dict = optarg; break;
		case 'j': o->json = 1; break;
		case OPT_PER_CLASS: o->per_class = 1; break;
		case OPT_PROPAGATE: o->propagate = 1; break;
		case OPT_THRESHOLD:
			if (mli_parse_double(optarg, 1e-9, 1 - 1e-9, &o->threshold) < 0)
				program_usage_error(prog, "--threshold: not a probability in (0, 1): '%s'",
						    optarg);
			break;
		case OPT_TOP:
			if (mli_parse_long(optarg, 1, 1000, &o->top_k) < 0)
				program_usage_error(prog, "--top: not a count from 1 to 1000: '%s'", optarg);
			break;
		case OPT_LABEL_THRESHOLD:
			if (mli_parse_double(optarg, 1e-6, 1e6, &o->label_threshold) < 0)
				program_usage_error(prog, "--label-threshold: not a positive number: '%s'",
						    optarg);
			break;
		case OPT_MAX_MEMORY:
			if (mli_parse_size(optarg, (uint64_t)1 << 50, &o->max_memory) < 0)
				program_usage_error(prog, "--max-memory: not a size: '%s'", optarg);
			break;
		case OPT_PREDICT:
			if (mli_parse_long(optarg, 1, 100000, &o->predict_k) < 0)
				program_usage_error(prog, "--predict: not a count from 1 to 100000: '%s'",
						    optarg);
			o->mode = MODE_PREDICT;
			modes++;
			break;
		case OPT_FEATURES: o->mode = MODE_FEATURES; modes++; break;
		case OPT_NPY: o->npy = optarg; o->mode = MODE_NPY; modes++; break;
		case OPT_THREADS:
			if (mli_parse_long(optarg, 1, 1024, &o->threads) < 0)
				program_usage_error(prog, "--threads: not a count from 1 to 1024: '%s'",
						    optarg);
			break;
		default: program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (optind < argc)
		program_usage_error(prog, "unexpected argument '%s' (batches come on stdin)",
				    argv[optind]);
	if (!o->checkpoint)
		program_usage_error(prog, "--checkpoint is required");
	if (modes > 1)
		program_usage_error(prog, "choose one of --predict, --features and --features-npy");
	if (o->propagate && !o->dict)
		program_usage_error(prog, "--propagate needs --dict (the hierarchy)");
	if (o->mode != MODE_METRICS && (o->json || o->per_class || o->propagate))
		program_usage_error(prog, "--json, --per-class and --propagate apply to the metrics");
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what,
		rc == MLI_ESYS ? strerror(errno) : mli_strerror(rc));
	exit(PROGRAM_EXIT_FAILURE);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fail("memory", MLI_ENOMEM);
	return p;
}

/* Reads the checkpoint's metadata: whether it was trained with softmax
 * (its probabilities are then a softmax over the classes). */
static int ckpt_softmax(const struct mli_ckpt *c)
{
	const char *s = mli_ckpt_meta(c, "options");
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	const char *loss = j ? json_string_value(json_object_get(j, "loss")) : NULL;
	int soft = loss && strcmp(loss, "softmax") == 0;

	json_decref(j);
	return soft;
}

/* Makes the network for batches of this shape, from the checkpoint. */
static void make_net(struct eval *e, const struct mli_tensor *in)
{
	const struct options *o = e->opt;
	const char *arch = mli_ckpt_meta(e->ckpt, "arch"), *width = mli_ckpt_meta(e->ckpt, "width"),
		   *classes = mli_ckpt_meta(e->ckpt, "classes");
	struct mli_resnet_config cfg = { 0 };
	char whybuf[256];
	long wv, cv;
	int rc, threads;

	if (!arch || !width || !classes || mli_resnet_arch(arch, &cfg) < 0 ||
	    mli_parse_long(width, 1, 4096, &wv) < 0 || mli_parse_long(classes, 1, 1L << 24, &cv) < 0) {
		fprintf(stderr, "%s: %s: not a checkpoint of mli-train (arch, width or classes "
			"missing from its metadata)\n", prog, o->checkpoint);
		exit(PROGRAM_EXIT_FAILURE);
	}
	cfg.width = (size_t)wv;
	cfg.classes = (size_t)cv;
	cfg.in_c = in->dims[1];
	cfg.in_h = in->dims[2];
	cfg.in_w = in->dims[3];
	cfg.batch = in->dims[0];
	cfg.bn_decay = 0.997f;
	cfg.bn_eps = 1e-5f;
	/* Forward passes only: no gradients, activations reused layer by
	 * layer (a third of a training network's memory). */
	cfg.inference_only = 1;
	const struct mli_kernels *kern = mli_kernels_select();
	if (!kern) {
		fprintf(stderr, "%s: MLI_KERNELS names no kernel table this CPU runs\n", prog);
		exit(PROGRAM_EXIT_FAILURE);
	}
	if ((rc = mli_resnet_create(&e->net, &cfg, kern)) < 0) {
		if (rc == MLI_EINVAL) {
			fprintf(stderr, "%s: stdin: input %ux%ux%u: the network needs 32x32 or more\n",
				prog, in->dims[1], in->dims[2], in->dims[3]);
			exit(PROGRAM_EXIT_FAILURE);
		}
		fail("network", rc);
	}
	if (mli_trainstate_load(e->ckpt, e->net, NULL, NULL, 0, whybuf, sizeof whybuf) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->checkpoint, whybuf);
		exit(PROGRAM_EXIT_FAILURE);
	}
	/* The file (weights and the momentum buffers) is no longer needed:
	 * gone before the first forward pass touches the activations, it
	 * does not add to the peak memory. */
	mli_ckpt_free(e->ckpt);
	e->ckpt = NULL;
	e->classes = cfg.classes;
	threads = (int)o->threads;
	if (threads < 0 && (threads = mli_pool_threads_from_env()) < 0)
		program_usage_error(prog, "MLI_THREADS: not a thread count");
	if ((rc = mli_pool_create(&e->pool, threads)) < 0)
		fail("thread pool", rc);
	if (e->dict && mli_dictionary_size(e->dict) < e->classes) {
		fprintf(stderr, "%s: %s: %zu classes, but the network has %zu\n", prog, o->dict,
			mli_dictionary_size(e->dict), e->classes);
		exit(PROGRAM_EXIT_FAILURE);
	}
	e->target = xrealloc(NULL, cfg.batch * e->classes * sizeof *e->target);
	e->prob = xrealloc(NULL, e->classes * sizeof *e->prob);
	if (o->mode == MODE_METRICS) {
		struct mli_metrics_options mo = {
			e->classes, o->threshold, (size_t)o->top_k, (float)o->label_threshold, 1,
			(size_t)o->max_memory
		};
		if ((rc = mli_metrics_create(&e->metrics, &mo)) < 0)
			fail("metrics", rc);
	}
	if (o->mode == MODE_PREDICT)
		e->top = xrealloc(NULL, (size_t)o->predict_k * sizeof *e->top);
	if (o->mode == MODE_FEATURES || o->mode == MODE_NPY)
		if ((rc = mli_featavg_init(&e->avg, e->net->features)) < 0)
			fail("features", rc);
	if (o->mode == MODE_NPY && (rc = mli_npy_create(&e->npy, o->npy, e->net->features)) < 0)
		fail(o->npy, rc);
}

/* Points e->keys at the n keys of a batch: its KEYS field, or
 * "BATCHKEY#i" when it has none (or a malformed one). */
static void batch_keys(struct eval *e, const struct mli_record *rec, size_t n)
{
	const struct mli_field *f = mli_record_field(rec, MLI_TAG_KEYS);
	size_t i, off = 0;

	if (n > e->keys_cap) {
		e->keys = xrealloc(e->keys, n * sizeof *e->keys);
		e->key_lens = xrealloc(e->key_lens, n * sizeof *e->key_lens);
		e->keys_cap = n;
	}
	for (i = 0; f && i < n; i++) {
		const char *s = (const char *)f->data + off;
		const char *z = off < f->size ? memchr(s, '\0', f->size - off) : NULL;
		if (!z)
			break;
		e->keys[i] = s;
		e->key_lens[i] = (size_t)(z - s);
		off += e->key_lens[i] + 1;
	}
	if (f && i == n)
		return;
	size_t per = rec->key_len + 24;
	if (n * per > e->keybuf_cap) {
		e->keybuf = xrealloc(e->keybuf, n * per);
		e->keybuf_cap = n * per;
	}
	for (i = 0; i < n; i++) {
		char *s = e->keybuf + i * per;
		int len = snprintf(s, per, "%.*s#%zu", (int)rec->key_len, rec->key ? rec->key : "", i);
		e->keys[i] = s;
		e->key_lens[i] = (size_t)len;
	}
}

/* Sets every ancestor of a positive class to the highest confidence among
 * its positive descendants (the original annotations' propagation). */
static void propagate(const struct eval *e, float *t, float lthr)
{
	for (size_t j = 0; j < e->classes; j++) {
		if (!(t[j] >= lthr))
			continue;
		int64_t p = mli_dictionary_parent(e->dict, (uint32_t)j);
		while (p >= 0 && (size_t)p < e->classes) {
			if (t[p] < t[j])
				t[p] = t[j];
			p = mli_dictionary_parent(e->dict, (uint32_t)p);
		}
	}
}

static void probabilities(const struct eval *e, const float *z, float *p)
{
	size_t j, c = e->classes;

	if (e->softmax) {
		double m = z[0], s = 0;
		for (j = 1; j < c; j++)
			m = z[j] > m ? z[j] : m;
		for (j = 0; j < c; j++)
			s += exp(z[j] - m);
		for (j = 0; j < c; j++)
			p[j] = (float)(exp(z[j] - m) / s);
	} else {
		for (j = 0; j < c; j++)
			p[j] = (float)(1 / (1 + exp(-(double)z[j])));
	}
}

static void emit_features(struct eval *e)
{
	const struct options *o = e->opt;
	int rc;

	if (o->mode == MODE_NPY) {
		if (mli_npy_write(&e->npy, e->avg.out) < 0) {
			mli_npy_discard(&e->npy);
			fail(o->npy, MLI_ESYS);
		}
		if (printf("%s\n", e->avg.out_key) < 0)
			program_output_failed(prog, MLI_ESYS);
		return;
	}
	uint32_t dim = (uint32_t)e->avg.dim;
	void *data;
	if ((rc = mli_writer_begin(e->w, MLI_TYPE_FEATURES)) < 0 ||
	    (rc = mli_writer_key(e->w, e->avg.out_key, strlen(e->avg.out_key))) < 0 ||
	    (rc = mli_writer_labels(e->w, e->pend, e->n_pend)) < 0 ||
	    (rc = mli_writer_tensor_reserve(e->w, MLI_TAG_FEATURE, MLI_DTYPE_F32, 1, &dim, &data)) < 0)
		program_output_failed(prog, rc);
	memcpy(data, e->avg.out, dim * sizeof(float));
	if ((rc = mli_writer_end(e->w)) < 0)
		program_output_failed(prog, rc);
}

/* Points e->labels and e->label_at at the sparse labels of a batch's n
 * images (the reader has checked the field against n), or clears them. */
static void batch_labels(struct eval *e, const struct mli_record *rec, size_t n)
{
	const struct mli_field *f = mli_record_field(rec, MLI_TAG_BATCH_LABELS);

	e->labels = NULL;
	if (!f || f->size < 4 * n)
		return;
	if (n + 1 > e->label_at_cap) {
		e->label_at = xrealloc(e->label_at, (n + 1) * sizeof *e->label_at);
		e->label_at_cap = n + 1;
	}
	e->label_at[0] = 0;
	for (size_t i = 0; i < n; i++)
		e->label_at[i + 1] = e->label_at[i] + mli_load32(f->data + 4 * i);
	if (e->label_at[n] * sizeof(struct mli_label) != f->size - 4 * n)
		return;
	e->labels = f->data + 4 * n;
}

/* Copies image i's labels (its first view's, for several) to go with the
 * feature vector being averaged. */
static void hold_labels(struct eval *e, size_t i)
{
	size_t n = e->labels ? e->label_at[i + 1] - e->label_at[i] : 0;

	if (n > e->pend_cap) {
		e->pend = xrealloc(e->pend, n * sizeof *e->pend);
		e->pend_cap = n;
	}
	if (n)
		memcpy(e->pend, e->labels + e->label_at[i] * sizeof(struct mli_label),
		       n * sizeof(struct mli_label));
	e->n_pend = n;
}

/* Runs n images (rows first..first+n of the batch) through the network
 * and hands the results to the mode. */
static void run_piece(struct eval *e, const struct mli_tensor *in, const struct mli_tensor *tg,
		      const uint32_t *views, size_t first, size_t n, uint64_t offset)
{
	const struct options *o = e->opt;
	size_t c = e->classes, per = (size_t)in->dims[1] * in->dims[2] * in->dims[3];
	int rc;

	if (in->dtype == MLI_DTYPE_U8)
		mli_resnet_input_u8(e->net, n, (const uint8_t *)in->data + first * per);
	else
		mli_resnet_input_f32(e->net, n, (const float *)in->data + first * per);
	if ((rc = mli_resnet_forward(e->net, e->pool, n, 0)) < 0)
		fail("forward", rc);
	const float *z = e->net->logits;
	for (size_t i = 0; i < n * c; i++)
		if (!isfinite(z[i])) {
			fprintf(stderr, "%s: stdin: offset %" PRIu64 ": the network's outputs are "
				"not finite (NaN or infinite): the checkpoint's weights have "
				"diverged\n", prog, offset);
			exit(PROGRAM_EXIT_FAILURE);
		}
	switch (o->mode) {
	case MODE_METRICS:
		memcpy(e->target, (const float *)tg->data + first * c, n * c * sizeof(float));
		if (o->propagate)
			for (size_t i = 0; i < n; i++)
				propagate(e, e->target + i * c, (float)o->label_threshold);
		if ((rc = mli_metrics_add(e->metrics, n, z, e->target)) == MLI_ENOMEM) {
			fprintf(stderr, "%s: stdin: offset %" PRIu64 ": after %" PRIu64 " images, the "
				"scores kept for AP (5 bytes per image and class) would pass "
				"--max-memory %" PRIu64 " bytes\n", prog, offset, e->images,
				o->max_memory);
			exit(PROGRAM_EXIT_FAILURE);
		}
		break;
	case MODE_PREDICT: {
		size_t k = (size_t)o->predict_k < c ? (size_t)o->predict_k : c;
		for (size_t i = 0; i < n; i++) {
			probabilities(e, z + i * c, e->prob);
			mli_top_k(z + i * c, c, k, e->top);
			for (size_t r = 0; r < k; r++) {
				const char *name = e->dict ? mli_dictionary_name(e->dict, e->top[r]) : "";
				if (printf("%.*s\t%zu\t%" PRIu32 "\t%.6f\t%s\n",
					   (int)e->key_lens[first + i], e->keys[first + i], r + 1,
					   e->top[r], (double)e->prob[e->top[r]], name) < 0)
					program_output_failed(prog, MLI_ESYS);
			}
		}
		break;
	}
	case MODE_FEATURES:
	case MODE_NPY: {
		const float *f = mli_resnet_features(e->net);
		for (size_t i = 0; i < n; i++) {
			rc = mli_featavg_add(&e->avg, e->keys[first + i], e->key_lens[first + i],
					     views && views[first + i] != 0, f + i * e->avg.dim);
			if (rc < 0)
				fail("features", rc);
			if (rc == 1)
				emit_features(e);
			if (e->avg.rows == 1)
				hold_labels(e, first + i);
		}
		break;
	}
	}
	e->images += n;
}

static void eval_batch(struct eval *e, const struct mli_record *rec, uint64_t offset)
{
	const struct options *o = e->opt;
	struct mli_tensor in, tg = { 0 };
	const char *why, *what = NULL;
	const uint32_t *views = NULL;
	const struct mli_field *vf;

	if (mli_record_tensor(rec, MLI_TAG_INPUT, &in, &why) < 0)
		what = "no valid INPUT";
	else if (in.ndim != 4 || (in.dtype != MLI_DTYPE_U8 && in.dtype != MLI_DTYPE_F32))
		what = "INPUT is not a uint8 or float32 [N, C, H, W] tensor";
	else if (o->mode == MODE_METRICS && mli_record_tensor(rec, MLI_TAG_TARGET, &tg, &why) < 0)
		what = "no valid TARGET (the metrics need labels)";
	else if (o->mode == MODE_METRICS && (tg.ndim != 2 || tg.dtype != MLI_DTYPE_F32 ||
					     tg.dims[0] != in.dims[0]))
		what = "TARGET is not a float32 [N, classes] tensor with N rows";
	if (!what && !e->net)
		make_net(e, &in);
	if (!what && (in.dims[1] != e->net->cfg.in_c || in.dims[2] != e->net->cfg.in_h ||
		      in.dims[3] != e->net->cfg.in_w))
		what = "INPUT's image shape differs from the first batch's";
	else if (!what && o->mode == MODE_METRICS && tg.dims[1] != e->classes)
		what = "TARGET's class count differs from the network's";
	if (what) {
		fprintf(stderr, "%s: stdin: offset %" PRIu64 ": batch %.*s: %s\n", prog, offset,
			(int)(rec->key_len > 200 ? 200 : rec->key_len), rec->key ? rec->key : "",
			what);
		exit(PROGRAM_EXIT_FAILURE);
	}
	size_t n = in.dims[0], step = e->net->cfg.batch;
	vf = mli_record_field(rec, MLI_TAG_VIEWS);
	if (vf && vf->size == n * 4)
		views = (const uint32_t *)(const void *)vf->data;
	if (o->mode != MODE_METRICS)
		batch_keys(e, rec, n);
	if (o->mode == MODE_FEATURES)
		batch_labels(e, rec, n);
	for (size_t first = 0; first < n; first += step)
		run_piece(e, &in, &tg, views, first, n - first < step ? n - first : step, offset);
	e->batches++;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *prf_json(const struct mli_prf *p)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "CP", num(p->cp), "CR", num(p->cr),
			 "CF1", num(p->cf1), "OP", num(p->op), "OR", num(p->or_), "OF1",
			 num(p->of1));
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static void print_json(const struct eval *e, const struct mli_metrics_result *r)
{
	const struct options *o = e->opt;
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:o, s:I, s:o, "
			      "s:o, s:o}",
			      "images", (json_int_t)r->images,
			      "images_with_positives", (json_int_t)r->images_positive,
			      "single_label_images", (json_int_t)r->single_label,
			      "positives", (json_int_t)r->positives,
			      "negatives", (json_int_t)r->negatives,
			      "ignored", (json_int_t)r->ignored,
			      "classes", (json_int_t)r->classes,
			      "classes_with_positives", (json_int_t)r->classes_positive,
			      "mAP", num(r->map), "threshold", o->threshold,
			      "at_threshold", prf_json(&r->at_threshold), "top_k", (json_int_t)o->top_k,
			      "top", prf_json(&r->top), "top1_accuracy", num(r->top1),
			      "top5_accuracy", num(r->top5));
	if (!j)
		fail("json", MLI_ENOMEM);
	if (o->per_class) {
		json_t *a = json_array();
		for (size_t c = 0; c < r->classes; c++) {
			const struct mli_class_result *k = &r->per_class[c];
			double p = ratio(k->tp, k->predicted), rc = ratio(k->tp, k->positives);
			json_t *x = json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o}",
					      "class", (json_int_t)c, "name",
					      e->dict ? mli_dictionary_name(e->dict, (uint32_t)c) : "",
					      "positives", (json_int_t)k->positives,
					      "negatives", (json_int_t)k->negatives,
					      "ignored", (json_int_t)k->ignored, "AP", num(k->ap),
					      "predicted", (json_int_t)k->predicted, "tp",
					      (json_int_t)k->tp, "P", num(p), "R",
					      num(k->positives ? rc : NAN), "F1",
					      num(k->positives ? (p + rc > 0 ? 2 * p * rc / (p + rc) : 0) : NAN));
			json_array_append_new(a, x);
		}
		json_object_set_new(j, "per_class", a);
	}
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || putchar('\n') < 0)
		program_output_failed(prog, MLI_ESYS);
	json_decref(j);
}

static void print_prf(const char *label, const struct mli_prf *p)
{
	printf("%-20s CP %.4f  CR %.4f  CF1 %.4f  OP %.4f  OR %.4f  OF1 %.4f\n", label, p->cp,
	       p->cr, p->cf1, p->op, p->or_, p->of1);
}

/* A figure of the table: "-" when undefined (no positives). */
static void print_figure(const char *label, double v)
{
	if (isfinite(v))
		printf("%-20s %.4f\n", label, v);
	else
		printf("%-20s -\n", label);
}

static void print_table(const struct eval *e, const struct mli_metrics_result *r)
{
	const struct options *o = e->opt;
	char label[64];

	printf("%-20s %" PRIu64 "\n", "images", r->images);
	printf("%-20s %" PRIu64 "\n", "images_positive", r->images_positive);
	printf("%-20s %" PRIu64 "\n", "single_label", r->single_label);
	printf("%-20s %" PRIu64 "\n", "positives", r->positives);
	printf("%-20s %" PRIu64 "\n", "negatives", r->negatives);
	printf("%-20s %" PRIu64 "\n", "ignored", r->ignored);
	printf("%-20s %zu\n", "classes", r->classes);
	printf("%-20s %zu\n", "classes_positive", r->classes_positive);
	print_figure("mAP", r->map);
	snprintf(label, sizeof label, "threshold %g", o->threshold);
	print_prf(label, &r->at_threshold);
	snprintf(label, sizeof label, "top %ld", o->top_k);
	print_prf(label, &r->top);
	print_figure("top1_accuracy", r->top1);
	print_figure("top5_accuracy", r->top5);
	if (!o->per_class)
		return;
	printf("\n%6s %8s %8s %8s %8s %8s  %s\n", "class", "AP", "pos", "P", "R", "F1", "name");
	for (size_t c = 0; c < r->classes; c++) {
		const struct mli_class_result *k = &r->per_class[c];
		double p = ratio(k->tp, k->predicted), rc = ratio(k->tp, k->positives);
		if (!k->positives)
			continue;
		printf("%6zu %8.4f %8" PRIu64 " %8.4f %8.4f %8.4f  %s\n", c, k->ap, k->positives, p,
		       rc, p + rc > 0 ? 2 * p * rc / (p + rc) : 0,
		       e->dict ? mli_dictionary_name(e->dict, (uint32_t)c) : "");
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct eval e = { 0 };
	struct mli_record rec;
	struct mli_progress progress;
	struct mli_tally tally = { 0 };
	const char *why;
	size_t line;
	int rc;

	program_init();
	parse_options(argc, argv, &o);
	e.opt = &o;
	if ((rc = mli_ckpt_open(&e.ckpt, o.checkpoint, &why)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.checkpoint,
			rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
		return PROGRAM_EXIT_FAILURE;
	}
	e.softmax = ckpt_softmax(e.ckpt);
	if (o.dict && (rc = mli_dictionary_read(o.dict, &e.dict, &line, &why)) < 0) {
		if (rc == MLI_ESYS)
			fprintf(stderr, "%s: %s: %s\n", prog, o.dict, strerror(errno));
		else
			fprintf(stderr, "%s: %s: line %zu: %s\n", prog, o.dict, line,
				why ? why : mli_strerror(rc));
		return PROGRAM_EXIT_FAILURE;
	}
	if (o.mode == MODE_FEATURES) {
		program_refuse_terminal(prog);
		if (!(e.w = mli_writer_open(1, NULL)))
			fail("writer", MLI_ENOMEM);
	}
	struct mli_reader *r = mli_reader_open(0, NULL);
	if (!r)
		fail("reader", MLI_ENOMEM);
	mli_progress_init(&progress, stderr, prog, "images",
			  mli_progress_wanted(o.progress_mode, 2), program_input_size(NULL, 0));
	double t0 = mli_now();
	for (;;) {
		rc = mli_reader_next(r, &rec);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* What is done goes out: feature records without an end
			 * frame (so that a reader sees the truncation), prediction
			 * lines; a .npy is not made from a truncated stream. */
			mli_progress_end(&progress);
			fprintf(stderr, "%s: stdin: %s\n", prog, mli_reader_message(r));
			if (e.w)
				mli_writer_flush(e.w);
			mli_npy_discard(&e.npy);
			fflush(stdout);
			return PROGRAM_EXIT_FAILURE;
		}
		tally.in++;
		if (rec.type != MLI_TYPE_BATCH) {
			mli_tally_skip(&tally, "not-a-batch", 1);
			continue;
		}
		eval_batch(&e, &rec, mli_reader_record_offset(r));
		tally.out++;
		mli_progress_update(&progress, e.images, mli_reader_stats(r)->offset, 0);
	}
	mli_progress_end(&progress);
	if (!e.net) {
		fprintf(stderr, "%s: stdin: no batch\n", prog);
		return PROGRAM_EXIT_FAILURE;
	}
	if (o.mode == MODE_METRICS) {
		struct mli_metrics_result res;
		if ((rc = mli_metrics_result(e.metrics, &res)) < 0)
			fail("metrics", rc);
		if (o.json)
			print_json(&e, &res);
		else
			print_table(&e, &res);
	}
	if ((o.mode == MODE_FEATURES || o.mode == MODE_NPY) && mli_featavg_flush(&e.avg) == 1)
		emit_features(&e);
	if (o.mode == MODE_NPY && mli_npy_close(&e.npy) < 0)
		fail(o.npy, MLI_ESYS);
	if (e.w && (rc = mli_writer_finish(e.w)) < 0)
		program_output_failed(prog, rc);
	/* The summary only after every output is out. */
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF) {
		fprintf(stderr, "%s: %" PRIu64 " images in %" PRIu64 " batches", prog, e.images,
			e.batches);
		if (o.mode == MODE_FEATURES || o.mode == MODE_NPY)
			fprintf(stderr, ", %" PRIu64 " feature vectors",
				o.mode == MODE_NPY ? e.npy.rows : mli_writer_stats(e.w)->records);
		fputc('\n', stderr);
		mli_tally_print(&tally, stderr, prog, mli_now() - t0);
	}
	mli_writer_free(e.w);
	mli_reader_free(r);
	mli_metrics_free(e.metrics);
	mli_featavg_free(&e.avg);
	mli_resnet_free(e.net);
	mli_pool_destroy(e.pool);
	mli_dictionary_free(e.dict);
	mli_ckpt_free(e.ckpt);
	free(e.target);
	free(e.prob);
	free(e.top);
	free(e.keys);
	free(e.key_lens);
	free(e.keybuf);
	free(e.label_at);
	free(e.pend);
	return 0;
}

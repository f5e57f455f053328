/* mli-train: train the original ResNet on a stream of BATCH records.
 *
 * Reads batches from stdin; the first one fixes the input shape, the
 * class count and the largest batch. Each batch is one step: forward,
 * loss, backward, momentum SGD. A line per step goes to stderr (and to
 * --log), checkpoints to --checkpoint-dir every --snapshot steps, at the
 * end and on SIGINT/SIGTERM. The network's memory (parameters,
 * gradients, momentum, activations) is allocated before the first step
 * (resnet.h says what little a step still takes). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "loss.h"
#include "mli.h"
#include "optim.h"
#include "program.h"
#include "random.h"
#include "resnet.h"
#include "trainstate.h"

static const char *const prog = "mli-train";

struct options {
	const char *arch;
	long width;
	struct mli_loss_config loss;
	struct mli_schedule sched;
	double momentum, weight_decay, bn_decay;
	uint64_t seed;
	const char *ckpt_dir;
	long snapshot, keep, freeze, threads;
	uint64_t max_steps;
	int resume;
	const char *init;
	const char *log;
	int quiet;
};

static volatile sig_atomic_t stop_signal;

/* Notes the signal; the step in progress finishes, then the checkpoint
 * is written. A read waiting for the next batch is ended by putting
 * /dev/null on stdin (open and dup2 are async-signal-safe): the restarted
 * read sees the end of input, which next_batch() takes as the stop. */
static void on_signal(int sig)
{
	int saved = errno, fd;
	stop_signal = sig;
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	errno = saved;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-q] [--arch ARCH] [--width N] [--loss multilabel|softmax]\n"
		"       [--class-weights adaptive|fixed] [--neg-select P] [--mask-thres T]\n"
		"       [--lr LR] [--lr-warmup LR] [--warmup N] [--warmup-every N]\n"
		"       [--warmup-factor F] [--lr-steps S,...] [--momentum M] [--weight-decay W]\n"
		"       [--batch-norm-decay D] [--seed N] [--freeze N] [--threads N]\n"
		"       [--checkpoint-dir DIR] [--snapshot N] [--keep K] [--resume] [--init FILE]\n"
		"       [--max-steps N] [--log FILE] < batches\n"
		"Train the original ResNet on BATCH records from stdin.\n"
		"\n"
		"  --arch ARCH             resnet50, resnet101 (default), resnet152, or blocks\n"
		"                          per stage such as 1,1,1,1\n"
		"  --width N               stem filters (64); stage s is 4*N*2^s wide\n"
		"  --loss KIND             multilabel (default) or softmax\n"
		"  --class-weights KIND    adaptive (default) or fixed\n"
		"  --neg-select P          share of negative classes drawn per step (0.3)\n"
		"  --mask-thres T          confidence counted as positive (0.7)\n"
		"  --lr LR                 learning rate after warm-up (0.1)\n"
		"  --lr-warmup LR          first warm-up rate (0.1)\n"
		"  --warmup N              warm-up steps (0)\n"
		"  --warmup-every N        steps between warm-up increases (0: none)\n"
		"  --warmup-factor F       warm-up increase factor (1.414)\n"
		"  --lr-steps S,...        steps where the rate drops tenfold\n"
		"  --momentum M            (0.9)\n"
		"  --weight-decay W        L2 decay of non-batch-norm weights (1e-4)\n"
		"  --batch-norm-decay D    running statistics decay (0.997)\n"
		"  --seed N                initialisation and negative sampling (1234)\n"
		"  --freeze N              keep the stem and the first N stages fixed\n"
		"  --threads N             threads (MLI_THREADS, else one per CPU)\n"
		"  --checkpoint-dir DIR    where checkpoints go (default .)\n"
		"  --snapshot N            checkpoint every N steps (0: only at the end)\n"
		"  --keep K                checkpoints kept (5)\n"
		"  --resume                continue from the latest checkpoint in DIR\n"
		"  --init FILE             start from these weights (fine-tuning)\n"
		"  --max-steps N           stop after N steps in all\n"
		"  --log FILE              one TSV line per step\n"
		"  -q, --quiet             no per-step lines on stderr\n"
		"  -h, --help              show this help\n"
		"  -V, --version           show the version\n",
		prog);
}

enum {
	OPT_ARCH = 256, OPT_WIDTH, OPT_LOSS, OPT_CLASS_WEIGHTS, OPT_NEG_SELECT, OPT_MASK_THRES,
	OPT_LR, OPT_LR_WARMUP, OPT_WARMUP, OPT_WARMUP_EVERY, OPT_WARMUP_FACTOR, OPT_LR_STEPS,
	OPT_MOMENTUM, OPT_WEIGHT_DECAY, OPT_BN_DECAY, OPT_SEED, OPT_FREEZE, OPT_THREADS,
	OPT_CKPT_DIR, OPT_SNAPSHOT, OPT_KEEP, OPT_RESUME, OPT_INIT, OPT_MAX_STEPS, OPT_LOG
};

static double opt_double(const char *name, const char *s, double lo, double hi)
{
	double v;
	if (mli_parse_double(s, lo, hi, &v) < 0)
		program_usage_error(prog, "--%s: not a number in [%g, %g]: %s", name, lo, hi, s);
	return v;
}

static long opt_long(const char *name, const char *s, long lo, long hi)
{
	long v;
	if (mli_parse_long(s, lo, hi, &v) < 0)
		program_usage_error(prog, "--%s: not an integer in [%ld, %ld]: %s", name, lo, hi, s);
	return v;
}

static void parse_steps(struct mli_schedule *s, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	uint64_t last = 0;
	s->n_decay = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long v = opt_long("lr-steps", tok, 1, 2000000000L);
		if (s->n_decay == MLI_LR_STEPS_MAX || (uint64_t)v <= last)
			program_usage_error(prog, "--lr-steps: at most %d increasing steps: %s",
					    MLI_LR_STEPS_MAX, arg);
		s->decay_steps[s->n_decay++] = last = (uint64_t)v;
	}
	free(copy);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "width", required_argument, NULL, OPT_WIDTH },
		{ "loss", required_argument, NULL, OPT_LOSS },
		{ "class-weights", required_argument, NULL, OPT_CLASS_WEIGHTS },
		{ "neg-select", required_argument, NULL, OPT_NEG_SELECT },
		{ "mask-thres", required_argument, NULL, OPT_MASK_THRES },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "lr-warmup", required_argument, NULL, OPT_LR_WARMUP },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "warmup-every", required_argument, NULL, OPT_WARMUP_EVERY },
		{ "warmup-factor", required_argument, NULL, OPT_WARMUP_FACTOR },
		{ "lr-steps", required_argument, NULL, OPT_LR_STEPS },
		{ "momentum", required_argument, NULL, OPT_MOMENTUM },
		{ "weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY },
		{ "batch-norm-decay", required_argument, NULL, OPT_BN_DECAY },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "freeze", required_argument, NULL, OPT_FREEZE },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "checkpoint-dir", required_argument, NULL, OPT_CKPT_DIR },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "init", required_argument, NULL, OPT_INIT },
		{ "max-steps", required_argument, NULL, OPT_MAX_STEPS },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){
		.arch = "resnet101",
		.width = 64,
		.loss = { MLI_LOSS_MULTILABEL, 1, 12.0f, 0.3f, 0.7f },
		.sched = { .lr = 0.1, .lr_warmup = 0.1, .warmup_factor = 1.414,
			   .decay_factor = 0.1 },
		.momentum = 0.9,
		.weight_decay = 1e-4,
		.bn_decay = 0.997,
		.seed = 1234,
		.ckpt_dir = ".",
		.keep = 5,
		.threads = -1,
	};
	while ((c = getopt_long(argc, argv, "qhV", longs, NULL)) != -1) {
		switch (c) {
		case OPT_ARCH: {
			struct mli_resnet_config cfg;
			if (mli_resnet_arch(optarg, &cfg) < 0)
				program_usage_error(prog, "--arch: unknown architecture: %s", optarg);
			o->arch = optarg;
			break;
		}
		case OPT_WIDTH: o->width = opt_long("width", optarg, 1, 4096); break;
		case OPT_LOSS:
			if (strcmp(optarg, "multilabel") == 0)
				o->loss.kind = MLI_LOSS_MULTILABEL;
			else if (strcmp(optarg, "softmax") == 0)
				o->loss.kind = MLI_LOSS_SOFTMAX;
			else
				program_usage_error(prog, "--loss: multilabel or softmax: %s", optarg);
			break;
		case OPT_CLASS_WEIGHTS:
			if (strcmp(optarg, "adaptive") == 0)
				o->loss.adaptive = 1;
			else if (strcmp(optarg, "fixed") == 0)
				o->loss.adaptive = 0;
			else
				program_usage_error(prog, "--class-weights: adaptive or fixed: %s", optarg);
			break;
		case OPT_NEG_SELECT: o->loss.neg_select = (float)opt_double("neg-select", optarg, 0, 1); break;
		case OPT_MASK_THRES: o->loss.mask_thres = (float)opt_double("mask-thres", optarg, 0, 1); break;
		case OPT_LR: o->sched.lr = opt_double("lr", optarg, 0, 100); break;
		case OPT_LR_WARMUP: o->sched.lr_warmup = opt_double("lr-warmup", optarg, 0, 100); break;
		case OPT_WARMUP: o->sched.warmup = (uint64_t)opt_long("warmup", optarg, 0, 2000000000L); break;
		case OPT_WARMUP_EVERY: o->sched.warmup_every = (uint64_t)opt_long("warmup-every", optarg, 0, 2000000000L); break;
		case OPT_WARMUP_FACTOR: o->sched.warmup_factor = opt_double("warmup-factor", optarg, 0, 100); break;
		case OPT_LR_STEPS: parse_steps(&o->sched, optarg); break;
		case OPT_MOMENTUM: o->momentum = opt_double("momentum", optarg, 0, 1); break;
		case OPT_WEIGHT_DECAY: o->weight_decay = opt_double("weight-decay", optarg, 0, 1); break;
		case OPT_BN_DECAY: o->bn_decay = opt_double("batch-norm-decay", optarg, 0, 1); break;
		case OPT_SEED: o->seed = (uint64_t)opt_long("seed", optarg, 0, 0x7fffffffffffffffL); break;
		case OPT_FREEZE: o->freeze = opt_long("freeze", optarg, 0, 4); break;
		case OPT_THREADS: o->threads = opt_long("threads", optarg, 1, 1024); break;
		case OPT_CKPT_DIR: o->ckpt_dir = optarg; break;
		case OPT_SNAPSHOT: o->snapshot = opt_long("snapshot", optarg, 0, 2000000000L); break;
		case OPT_KEEP: o->keep = opt_long("keep", optarg, 1, 1000000); break;
		case OPT_RESUME: o->resume = 1; break;
		case OPT_INIT: o->init = optarg; break;
		case OPT_MAX_STEPS: o->max_steps = (uint64_t)opt_long("max-steps", optarg, 1, 0x7fffffffffffffffL); break;
		case OPT_LOG: o->log = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); program_close_stdout(prog); exit(0);
		case 'V': program_version(prog);
		default: usage(stderr); exit(PROGRAM_EXIT_USAGE);
		}
	}
	if (optind < argc)
		program_usage_error(prog, "unexpected argument: %s (batches come on stdin)", argv[optind]);
	if (o->resume && o->init)
		program_usage_error(prog, "--resume and --init exclude each other");
}

struct trainer {
	const struct options *opt;
	struct mli_resnet *net;
	struct mli_loss loss;
	struct mli_rng rng;        /* negative selection */
	struct mli_pool *pool;
	float *momentum;
	uint64_t step;
	char in_shape[64];
	char *options_json;
};

/* Checkpoint names: DIR/step-NNNNNNNN.safetensors, and latest.safetensors
 * a symbolic link to the newest. */
static int ckpt_step_of(const char *name, uint64_t *step)
{
	unsigned long long s;
	int end = 0;
	if (sscanf(name, "step-%llu.safetensors%n", &s, &end) != 1 || name[end] != '\0')
		return 0;
	*step = s;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The steps of the checkpoints in dir, sorted; returns their count. */
static size_t list_ckpts(const char *dir, uint64_t **steps)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0, cap = 0;
	*steps = NULL;
	while (d && (e = readdir(d))) {
		uint64_t s;
		if (!ckpt_step_of(e->d_name, &s))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			uint64_t *g = realloc(*steps, cap * sizeof **steps);
			if (!g)
				break;
			*steps = g;
		}
		(*steps)[n++] = s;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(*steps, n, sizeof **steps, cmp_u64);
	return n;
}

static void save(struct trainer *t, const char *why)
{
	const struct options *o = t->opt;
	char path[4096], step[32], key[32], counter[32], width[32], classes[32], seed[32], latest[4096],
		tmp[4096], name[64];
	snprintf(name, sizeof name, "step-%08" PRIu64 ".safetensors", t->step);
	snprintf(path, sizeof path, "%s/%s", o->ckpt_dir, name);
	snprintf(step, sizeof step, "%" PRIu64, t->step);
	snprintf(key, sizeof key, "%016" PRIx64, t->rng.key);
	snprintf(counter, sizeof counter, "%" PRIu64, t->rng.counter);
	snprintf(width, sizeof width, "%ld", o->width);
	snprintf(classes, sizeof classes, "%zu", t->net->cfg.classes);
	snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
	struct mli_ckpt_meta meta[] = {
		{ "format", "mli-train 1" },
		{ "step", step },
		{ "arch", o->arch },
		{ "width", width },
		{ "classes", classes },
		{ "input", t->in_shape },
		{ "seed", seed },
		{ "rng_key", key },
		{ "rng_counter", counter },
		{ "options", t->options_json ? t->options_json : "{}" },
	};
	int rc = mli_trainstate_save(path, t->net, t->momentum, &t->loss, meta,
				     sizeof meta / sizeof meta[0]);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			rc == MLI_ESYS ? strerror(errno) : mli_strerror(rc));
		exit(PROGRAM_EXIT_FAILURE);
	}
	snprintf(latest, sizeof latest, "%s/latest.safetensors", o->ckpt_dir);
	snprintf(tmp, sizeof tmp, "%s/.latest.tmp.%ld", o->ckpt_dir, (long)getpid());
	unlink(tmp);
	if (symlink(name, tmp) < 0 || rename(tmp, latest) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, latest, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	uint64_t *steps;
	size_t n = list_ckpts(o->ckpt_dir, &steps);
	for (size_t i = 0; i + (size_t)o->keep < n; i++) {
		snprintf(path, sizeof path, "%s/step-%08" PRIu64 ".safetensors", o->ckpt_dir, steps[i]);
		unlink(path);
	}
	free(steps);
	if (!o->quiet || why[0] != 's')
		fprintf(stderr, "%s: step %" PRIu64 ": checkpoint %s/%s (%s)\n", prog, t->step,
			o->ckpt_dir, name, why);
}

static char *options_json(const struct options *o)
{
	json_t *steps = json_array();
	for (int i = 0; i < o->sched.n_decay; i++)
		json_array_append_new(steps, json_integer((json_int_t)o->sched.decay_steps[i]));
	json_t *j = json_pack(
		"{s:s, s:I, s:s, s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:o, s:f, s:f, s:f, s:I, s:I}",
		"arch", o->arch, "width", (json_int_t)o->width,
		"loss", o->loss.kind == MLI_LOSS_SOFTMAX ? "softmax" : "multilabel",
		"class_weights", o->loss.adaptive ? "adaptive" : "fixed",
		"neg_select", (double)o->loss.neg_select, "mask_thres", (double)o->loss.mask_thres,
		"lr", o->sched.lr, "lr_warmup", o->sched.lr_warmup,
		"warmup", (json_int_t)o->sched.warmup, "warmup_every", (json_int_t)o->sched.warmup_every,
		"warmup_factor", o->sched.warmup_factor, "lr_steps", steps,
		"momentum", o->momentum, "weight_decay", o->weight_decay,
		"batch_norm_decay", o->bn_decay, "seed", (json_int_t)o->seed,
		"freeze", (json_int_t)o->freeze);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return s;
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what,
		rc == MLI_ESYS ? strerror(errno) : mli_strerror(rc));
	exit(PROGRAM_EXIT_FAILURE);
}

/* Restores the state from a checkpoint (--resume) or weights (--init). */
static void restore(struct trainer *t, const char *path, int resume)
{
	struct mli_ckpt *c;
	const char *why;
	char whybuf[256];
	int rc = mli_ckpt_open(&c, path, &why);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
		exit(PROGRAM_EXIT_FAILURE);
	}
	if (resume) {
		const char *arch = mli_ckpt_meta(c, "arch"), *input = mli_ckpt_meta(c, "input"),
			   *step = mli_ckpt_meta(c, "step"), *key = mli_ckpt_meta(c, "rng_key"),
			   *counter = mli_ckpt_meta(c, "rng_counter");
		if (!arch || !input || !step || !key || !counter) {
			fprintf(stderr, "%s: %s: not a checkpoint of mli-train (metadata missing)\n",
				prog, path);
			exit(PROGRAM_EXIT_FAILURE);
		}
		if (strcmp(arch, t->opt->arch) != 0 || strcmp(input, t->in_shape) != 0) {
			fprintf(stderr, "%s: %s: made for --arch %s and input %s, not %s and %s\n",
				prog, path, arch, input, t->opt->arch, t->in_shape);
			exit(PROGRAM_EXIT_FAILURE);
		}
		t->step = strtoull(step, NULL, 10);
		t->rng.key = strtoull(key, NULL, 16);
		t->rng.counter = strtoull(counter, NULL, 10);
	}
	rc = mli_trainstate_load(c, t->net, resume ? t->momentum : NULL, resume ? &t->loss : NULL,
				 !resume, whybuf, sizeof whybuf);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, whybuf);
		exit(PROGRAM_EXIT_FAILURE);
	}
	mli_ckpt_free(c);
	if (!t->opt->quiet)
		fprintf(stderr, "%s: %s %s at step %" PRIu64 "\n", prog,
			resume ? "resuming from" : "weights from", path, t->step);
}

/* Checks a batch against the first one's shape; returns the image count,
 * 0 for a batch of one image (skipped with a warning: the last batch of
 * an epoch may be that small), or exits with a message. */
static size_t check_batch(const struct mli_record *rec, const struct mli_tensor *in,
			  const struct mli_tensor *tg, const struct mli_resnet_config *cfg,
			  uint64_t offset)
{
	const char *what = NULL;
	if (in->ndim != 4 || (in->dtype != MLI_DTYPE_U8 && in->dtype != MLI_DTYPE_F32))
		what = "INPUT is not a uint8 or float32 [N, C, H, W] tensor";
	else if (tg->ndim != 2 || tg->dtype != MLI_DTYPE_F32 || tg->dims[0] != in->dims[0])
		what = "TARGET is not a float32 [N, classes] tensor with N rows";
	else if (cfg && (in->dims[1] != cfg->in_c || in->dims[2] != cfg->in_h ||
			 in->dims[3] != cfg->in_w || tg->dims[1] != cfg->classes))
		what = "shape differs from the first batch's";
	else if (cfg && in->dims[0] > cfg->batch)
		what = "more images than the first batch (the largest batch comes first)";
	if (!what && in->dims[0] < 2) {
		fprintf(stderr, "%s: stdin: offset %" PRIu64 ": batch %.*s: skipped: 1 image "
			"(batch norm needs 2)\n", prog, offset,
			(int)(rec->key_len > 200 ? 200 : rec->key_len), rec->key ? rec->key : "");
		return 0;
	}
	if (what) {
		fprintf(stderr, "%s: stdin: offset %" PRIu64 ": batch %.*s: %s\n", prog, offset,
			(int)(rec->key_len > 200 ? 200 : rec->key_len), rec->key ? rec->key : "",
			what);
		exit(PROGRAM_EXIT_FAILURE);
	}
	return in->dims[0];
}

/* The next BATCH record's INPUT and TARGET; 0 at the end of the stream. */
static int next_batch(struct mli_reader *r, struct mli_record *rec, struct mli_tensor *in,
		      struct mli_tensor *tg)
{
	const char *why;
	for (;;) {
		int rc = mli_reader_next(r, rec);
		if (rc == 0 || stop_signal)
			return 0;
		if (rc < 0) {
			fprintf(stderr, "%s: stdin: %s\n", prog, mli_reader_message(r));
			exit(PROGRAM_EXIT_FAILURE);
		}
		if (rec->type != MLI_TYPE_BATCH)
			continue;
		if (mli_record_tensor(rec, MLI_TAG_INPUT, in, &why) < 0 ||
		    mli_record_tensor(rec, MLI_TAG_TARGET, tg, &why) < 0) {
			fprintf(stderr, "%s: stdin: offset %" PRIu64 ": batch without %s\n", prog,
				mli_reader_record_offset(r),
				mli_record_field(rec, MLI_TAG_INPUT) ? "a valid TARGET" : "a valid INPUT");
			exit(PROGRAM_EXIT_FAILURE);
		}
		return 1;
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct trainer t = { 0 };
	struct mli_record rec;
	struct mli_tensor in, tg;
	struct mli_resnet_config cfg = { 0 };
	FILE *log = NULL;
	int rc;

	program_init();
	parse_options(argc, argv, &o);
	t.opt = &o;
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	const struct mli_kernels *kern = mli_kernels_select();
	if (!kern) {
		fprintf(stderr, "%s: MLI_KERNELS names no kernel table this CPU runs\n", prog);
		return PROGRAM_EXIT_FAILURE;
	}
	int threads = (int)o.threads;
	if (threads < 0) {
		threads = mli_pool_threads_from_env();
		if (threads < 0)
			program_usage_error(prog, "MLI_THREADS: not a thread count");
	}
	if ((rc = mli_pool_create(&t.pool, threads)) < 0)
		fail("thread pool", rc);
	if (mkdir(o.ckpt_dir, 0777) < 0 && errno != EEXIST)
		fail(o.ckpt_dir, MLI_ESYS);

	struct mli_reader *r = mli_reader_open(0, NULL);
	if (!r)
		fail("reader", MLI_ENOMEM);
	if (!next_batch(r, &rec, &in, &tg)) {
		fprintf(stderr, "%s: stdin: no batch\n", prog);
		return PROGRAM_EXIT_FAILURE;
	}
	while (check_batch(&rec, &in, &tg, NULL, mli_reader_record_offset(r)) == 0)
		if (!next_batch(r, &rec, &in, &tg)) {
			fprintf(stderr, "%s: stdin: no batch of 2 images or more\n", prog);
			return PROGRAM_EXIT_FAILURE;
		}
	mli_resnet_arch(o.arch, &cfg);
	cfg.width = (size_t)o.width;
	cfg.classes = tg.dims[1];
	cfg.in_c = in.dims[1];
	cfg.in_h = in.dims[2];
	cfg.in_w = in.dims[3];
	cfg.batch = in.dims[0];
	cfg.bn_decay = (float)o.bn_decay;
	cfg.bn_eps = 1e-5f;
	snprintf(t.in_shape, sizeof t.in_shape, "%zux%zux%zu", cfg.in_c, cfg.in_h, cfg.in_w);
	if ((rc = mli_resnet_create(&t.net, &cfg, kern)) < 0) {
		if (rc == MLI_EINVAL)
			fprintf(stderr, "%s: stdin: input %s: the network needs 32x32 or more\n", prog,
				t.in_shape);
		else
			fail("network", rc);
		return PROGRAM_EXIT_FAILURE;
	}
	if ((rc = mli_loss_init(&t.loss, &o.loss, cfg.classes, cfg.batch)) < 0)
		fail("loss", rc);
	if (posix_memalign((void **)&t.momentum, 64, t.net->n_floats * sizeof(float)))
		fail("momentum", MLI_ENOMEM);
	memset(t.momentum, 0, t.net->n_floats * sizeof(float));
	t.options_json = options_json(&o);

	struct mli_rng init;
	mli_rng_init(&init, o.seed, "init", 4, 0);
	mli_resnet_init(t.net, &init);
	mli_rng_init(&t.rng, o.seed, "negatives", 9, 0);
	if (o.resume) {
		uint64_t *steps;
		size_t n = list_ckpts(o.ckpt_dir, &steps);
		if (!n) {
			fprintf(stderr, "%s: %s: no checkpoint to resume from\n", prog, o.ckpt_dir);
			return PROGRAM_EXIT_FAILURE;
		}
		char path[4096];
		snprintf(path, sizeof path, "%s/step-%08" PRIu64 ".safetensors", o.ckpt_dir,
			 steps[n - 1]);
		free(steps);
		restore(&t, path, 1);
	} else if (o.init) {
		restore(&t, o.init, 0);
	}
	mli_resnet_freeze(t.net, (int)o.freeze);
	if (o.log) {
		log = fopen(o.log, o.resume ? "a" : "w");
		if (!log)
			fail(o.log, MLI_ESYS);
		if (!o.resume)
			fprintf(log, "step\tloss\tlr\timages_per_s\tseconds\n");
	}
	if (!o.quiet)
		fprintf(stderr,
			"%s: %s width %ld, input %s, %zu classes, batch %zu, %.3g GMACs per image, "
			"%.3g M parameters, %.0f MiB activations, %d threads, kernels %s\n",
			prog, o.arch, o.width, t.in_shape, cfg.classes, cfg.batch,
			mli_resnet_macs(t.net) / 1e9, (double)t.net->n_floats / 1e6,
			(double)t.net->act_bytes / 1048576.0, mli_pool_threads(t.pool), kern->name);

	double t0 = mli_now();
	uint64_t images = 0, steps_run = 0, skipped = 0;
	int have = 1;
	while (have && !stop_signal && (!o.max_steps || t.step < o.max_steps)) {
		size_t n = check_batch(&rec, &in, &tg, &cfg, mli_reader_record_offset(r));
		if (n == 0) {
			skipped++;
			have = next_batch(r, &rec, &in, &tg);
			continue;
		}
		double ts = mli_now();
		if (in.dtype == MLI_DTYPE_U8)
			mli_resnet_input_u8(t.net, n, in.data);
		else
			mli_resnet_input_f32(t.net, n, in.data);
		if ((rc = mli_resnet_forward(t.net, t.pool, n, 1)) < 0)
			fail("forward", rc);
		double l = mli_loss_step(&t.loss, &t.rng, n, t.net->logits, tg.data, t.net->dlogits);
		if (!isfinite(l)) {
			fprintf(stderr,
				"%s: step %" PRIu64 ": the loss is %s; stopping (the last checkpoint "
				"in %s is kept; try a lower --lr)\n",
				prog, t.step + 1, isnan(l) ? "NaN" : "infinite", o.ckpt_dir);
			return PROGRAM_EXIT_FAILURE;
		}
		if ((rc = mli_resnet_backward(t.net, t.pool, n)) < 0)
			fail("backward", rc);
		double lr = mli_schedule_lr(&o.sched, t.step);
		mli_sgd_step(t.net, t.pool, t.momentum, (float)lr, (float)o.momentum,
			     (float)o.weight_decay);
		t.step++;
		steps_run++;
		images += n;
		double now = mli_now(), ips = (double)n / (now - ts);
		if (!o.quiet)
			fprintf(stderr, "%s: step %" PRIu64 " loss %.6f lr %.6g images/s %.1f\n", prog,
				t.step, l, lr, ips);
		if (log) {
			fprintf(log, "%" PRIu64 "\t%.6f\t%.6g\t%.2f\t%.3f\n", t.step, l, lr, ips,
				now - t0);
			fflush(log);
		}
		if (o.snapshot && t.step % (uint64_t)o.snapshot == 0)
			save(&t, "snapshot");
		if (stop_signal || (o.max_steps && t.step >= o.max_steps))
			break;
		have = next_batch(r, &rec, &in, &tg);
	}
	if (stop_signal) {
		save(&t, stop_signal == SIGINT ? "interrupted" : "terminated");
	} else if (!o.snapshot || t.step % (uint64_t)o.snapshot != 0) {
		save(&t, "end");
	}
	double secs = mli_now() - t0;
	fprintf(stderr, "%s: %" PRIu64 " steps, %" PRIu64 " images, %" PRIu64 " batches skipped, "
		"%.1f images/s, at step %" PRIu64 ", %.1f s\n", prog, steps_run, images, skipped,
		secs > 0 ? (double)images / secs : 0.0, t.step, secs);
	if (log && fclose(log) != 0)
		fail(o.log, MLI_ESYS);
	mli_reader_free(r);
	mli_loss_free(&t.loss);
	mli_resnet_free(t.net);
	mli_pool_destroy(t.pool);
	free(t.momentum);
	free(t.options_json);
	if (stop_signal) {
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
	return 0;
}

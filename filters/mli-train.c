/* mli-train: train the original ResNet on a stream of BATCH records.
 *
 * Reads batches from stdin; the first one fixes the input shape, the
 * class count and the largest batch. Each batch is one step: forward,
 * loss, backward, momentum SGD. A line per step goes to stderr (and to
 * --log), checkpoints to --checkpoint-dir every --snapshot steps, at the
 * end and on SIGINT/SIGTERM. The network's memory (parameters,
 * gradients, momentum, activations) is allocated before the first step
 * (resnet.h says what little a step still takes).
 *
 * A step may cover a batch in parts: the parts of --split in this
 * process, or the ranks of --mpi (train-mpi.h), each with its own batch.
 * Either way the step is one loss over the whole (loss.h): the positives
 * of every part or-ed, the coefficients drawn once, every part divided
 * by the whole row count, and the parts' gradients summed in a fixed
 * order before one update. Batch norm normalises each part by its own
 * statistics, as a multi-GPU run of the original normalises on each GPU.
 *
 * Two environment variables exist for tests/mpi.bats only, to prove
 * the above: with --mpi, MLI_TRAIN_TEST_SLICE makes every rank read the
 * same stream and train on its share of each batch's rows (so that one
 * process with --split can be given the very same parts), and
 * MLI_TRAIN_TEST_RANK_CHECKPOINTS makes ranks other than 0 write their
 * checkpoints too, into DIR/rank-R, to be compared byte for byte.
 *
 * The checkpoint records where each stream stands: the count of BATCH
 * records consumed and digests of the first and the last. --resume
 * given a stream whose first batch is the recorded first one passes
 * over the recorded count (checking the last one) and goes on; given
 * any other stream it takes it as the continuation. */
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
#include "ckptdir.h"
#include "frame.h"
#include "loss.h"
#include "mli.h"
#include "optim.h"
#include "program.h"
#include "random.h"
#include "resnet.h"
#include "trainstate.h"
#ifdef MLI_HAVE_MPI
#include "train-mpi.h"
#endif

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
	const char *log, *log_json;
	long split;
	int mpi;
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
		"       [--max-steps N] [--log FILE] [--log-json FILE] [--split K] [--mpi]\n"
		"       < batches\n"
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
		"  --log-json FILE         one JSON object per line and step\n"
		"  --split K               each batch in K parts, each with its own batch norm\n"
		"                          statistics, as K ranks of --mpi\n"
		"  --mpi                   data-parallel over the ranks of mpirun, each rank\n"
		"                          reading its own stream\n"
		"  -q, --quiet             no per-step lines on stderr\n"
		"  -h, --help              show this help\n"
		"  -V, --version           show the version\n",
		prog);
}

enum {
	OPT_ARCH = 256, OPT_WIDTH, OPT_LOSS, OPT_CLASS_WEIGHTS, OPT_NEG_SELECT, OPT_MASK_THRES,
	OPT_LR, OPT_LR_WARMUP, OPT_WARMUP, OPT_WARMUP_EVERY, OPT_WARMUP_FACTOR, OPT_LR_STEPS,
	OPT_MOMENTUM, OPT_WEIGHT_DECAY, OPT_BN_DECAY, OPT_SEED, OPT_FREEZE, OPT_THREADS,
	OPT_CKPT_DIR, OPT_SNAPSHOT, OPT_KEEP, OPT_RESUME, OPT_INIT, OPT_MAX_STEPS, OPT_LOG,
	OPT_LOG_JSON, OPT_SPLIT, OPT_MPI
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
	long v[MLI_LR_STEPS_MAX];
	size_t n;
	if (mli_parse_long_list(arg, 1, 2000000000L, 1, v, MLI_LR_STEPS_MAX, &n) < 0)
		program_usage_error(prog, "--lr-steps: at most %d increasing steps in [1, %ld]: %s",
				    MLI_LR_STEPS_MAX, 2000000000L, arg);
	for (size_t i = 0; i < n; i++)
		s->decay_steps[i] = (uint64_t)v[i];
	s->n_decay = (int)n;
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
		{ "log-json", required_argument, NULL, OPT_LOG_JSON },
		{ "split", required_argument, NULL, OPT_SPLIT },
		{ "mpi", no_argument, NULL, OPT_MPI },
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
		.split = 1,
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
		case OPT_LOG_JSON: o->log_json = optarg; break;
		case OPT_SPLIT: o->split = opt_long("split", optarg, 1, 4096); break;
		case OPT_MPI:
#ifdef MLI_HAVE_MPI
			o->mpi = 1;
			break;
#else
			program_usage_error(prog, "--mpi: this mli-train was built without MPI "
					    "(configure --with-mpi)");
#endif
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
	if (o->mpi && o->split > 1)
		program_usage_error(prog, "--split and --mpi exclude each other");
}

/* Where a stream stands: BATCH records consumed (trained on, or passed
 * over as too small) and the digests (mli_hash of the record payload) and
 * keys of the first and the last. The keys are for people reading the
 * metadata; the digests decide. */
#define KEY_SHOWN 80
struct stream_pos {
	uint64_t batches;
	uint64_t first, last;
	char first_key[KEY_SHOWN], last_key[KEY_SHOWN];
};

struct trainer {
	const struct options *opt;
	struct mli_resnet *net;
	struct mli_loss loss;
	struct mli_rng rng;        /* negative selection */
	struct mli_pool *pool;
	float *momentum;
	float *acc;                /* (n_floats) the parts' gradient sum (--split) */
	int64_t *sums;             /* (SUM_POS + classes) what the parts of a step add up */
	uint64_t step;
	char in_shape[64];
	char *options_json;
	int rank, ranks;           /* 0 and 1 without --mpi */
	int slice;                 /* test hook: ranks share one stream's rows */
	int rank_ckpts;            /* test hook: ranks > 0 write checkpoints too */
	/* This run's stream: base is what a resumed checkpoint had consumed
	 * before it (zero when the stream given starts from the beginning),
	 * seen what this run has consumed. */
	struct stream_pos base, seen;
};

/* The step's sums: the first entries, then a positive flag per class. */
enum { SUM_HAVE, SUM_SIGINT, SUM_SIGTERM, SUM_IMAGES, SUM_ROWS, SUM_POS };

/* A record's key for the metadata: printable ASCII kept, other bytes and
 * backslashes as \\xNN, cut to fit. */
static void show_key(char *dst, const char *key, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < KEY_SHOWN; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, KEY_SHOWN - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

/* Counts a BATCH record as consumed by this run. */
static void consume(struct trainer *t, const struct mli_record *rec)
{
	struct stream_pos *s = &t->seen;
	uint64_t d = mli_hash(rec->payload, rec->payload_len);
	if (s->batches++ == 0) {
		s->first = d;
		show_key(s->first_key, rec->key ? rec->key : "", rec->key_len);
	}
	s->last = d;
	show_key(s->last_key, rec->key ? rec->key : "", rec->key_len);
}

/* Where the stream stands in all, for the checkpoint. */
static struct stream_pos stream_now(const struct trainer *t)
{
	struct stream_pos p = t->base;
	if (!p.batches)
		return t->seen;
	p.batches += t->seen.batches;
	if (t->seen.batches) {
		p.last = t->seen.last;
		memcpy(p.last_key, t->seen.last_key, KEY_SHOWN);
	}
	return p;
}

/* The metadata "stream": a JSON array with an object per rank. */
static char *stream_json(const struct stream_pos *p, int n)
{
	json_t *a = json_array();
	for (int r = 0; r < n; r++) {
		char first[24], last[24];
		snprintf(first, sizeof first, "%016" PRIx64, p[r].first);
		snprintf(last, sizeof last, "%016" PRIx64, p[r].last);
		json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s, s:s}",
						   "batches", (json_int_t)p[r].batches,
						   "first", first, "first_key", p[r].first_key,
						   "last", last, "last_key", p[r].last_key));
	}
	char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(a);
	return s;
}

/* Reads rank `rank`'s entry of the metadata "stream" into p; 0, or -1
 * when it is missing or malformed (a checkpoint of an older mli-train:
 * the stream then counts as the continuation) and -2 when the checkpoint
 * was made by another rank count. */
static int stream_parse(const char *text, int rank, int ranks, struct stream_pos *p)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL, *e;
	const char *first, *last, *fk, *lk;
	json_int_t n;
	int rc = -1;
	memset(p, 0, sizeof *p);
	if (!json_is_array(a))
		goto done;
	if (json_array_size(a) != (size_t)ranks) {
		rc = -2;
		goto done;
	}
	e = json_array_get(a, (size_t)rank);
	if (json_unpack(e, "{s:I, s:s, s:s, s:s, s:s}", "batches", &n, "first", &first,
			"first_key", &fk, "last", &last, "last_key", &lk) < 0 || n < 0)
		goto done;
	if (mli_parse_hex64(first, &p->first) < 0 || mli_parse_hex64(last, &p->last) < 0)
		goto done;
	p->batches = (uint64_t)n;
	snprintf(p->first_key, KEY_SHOWN, "%s", fk);
	snprintf(p->last_key, KEY_SHOWN, "%s", lk);
	rc = 0;
done:
	json_decref(a);
	return rc;
}

#ifdef MLI_HAVE_MPI
/* A digest of the trained state that every rank must share: the
 * trainable parameters and their momentum (the batch-norm running
 * statistics are per rank). */
static uint64_t weights_digest(const struct trainer *t)
{
	uint64_t h[3] = { 0 };
	for (size_t i = 0; i < t->net->n_param; i++) {
		const struct mli_param *p = &t->net->param[i];
		if (!p->trainable)
			continue;
		h[1] = mli_hash(t->net->params + p->offset, p->count * sizeof(float));
		h[2] = mli_hash(t->momentum + p->offset, p->count * sizeof(float));
		h[0] = mli_hash(h, sizeof h);
	}
	return h[0];
}
#endif

static void fail(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what,
		rc == MLI_ESYS ? strerror(errno) : mli_strerror(rc));
	exit(PROGRAM_EXIT_FAILURE);
}

/* Writes a checkpoint. Collective under --mpi (every rank's stream
 * position goes to rank 0, and the ranks' weights are checked to be the
 * same); rank 0 writes. */
static void save(struct trainer *t, const char *why)
{
	const struct options *o = t->opt;
	char path[4096], step[32], key[32], counter[32], width[32], classes[32], seed[32], latest[4096],
		name[64], dir[3072];
	struct stream_pos mine = stream_now(t), *all = &mine;
	uint64_t digest = 0, *digests = &digest;

	if (t->ranks > 1) {
#ifdef MLI_HAVE_MPI
		digest = weights_digest(t);
		if (t->rank == 0) {
			all = calloc((size_t)t->ranks, sizeof *all);
			digests = calloc((size_t)t->ranks, sizeof *digests);
			if (!all || !digests)
				fail("checkpoint", MLI_ENOMEM);
		}
		train_mpi_gather(&mine, all, sizeof mine);
		train_mpi_gather(&digest, digests, sizeof digest);
		if (t->rank == 0)
			for (int r = 1; r < t->ranks; r++)
				if (digests[r] != digests[0]) {
					fprintf(stderr, "%s: step %" PRIu64 ": the weights of rank %d "
						"differ from rank 0's (digest %016" PRIx64 ", not %016"
						PRIx64 ")\n", prog, t->step, r, digests[r], digests[0]);
					exit(PROGRAM_EXIT_FAILURE);
				}
#endif
	}
	if (t->rank != 0 && !t->rank_ckpts)
		return;
	if (t->rank == 0)
		snprintf(dir, sizeof dir, "%s", o->ckpt_dir);
	else
		snprintf(dir, sizeof dir, "%s/rank-%d", o->ckpt_dir, t->rank);
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		fail(dir, MLI_ESYS);
	char *stream = stream_json(all, t->rank == 0 ? t->ranks : 1);
	mli_ckptdir_name(name, sizeof name, t->step);
	snprintf(path, sizeof path, "%s/%s", dir, name);
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
		{ "stream", stream ? stream : "[]" },
	};
	int rc = mli_trainstate_save(path, t->net, t->momentum, &t->loss, meta,
				     sizeof meta / sizeof meta[0]);
	free(stream);
	if (all != &mine)
		free(all);
	if (digests != &digest)
		free(digests);
	if (rc < 0)
		fail(path, rc);
	if (mli_ckptdir_commit(dir, t->step, (size_t)o->keep) < 0) {
		snprintf(latest, sizeof latest, "%s/latest.safetensors", dir);
		fail(latest, MLI_ESYS);
	}
	if (t->rank == 0 && (!o->quiet || why[0] != 's'))
		fprintf(stderr, "%s: step %" PRIu64 ": checkpoint %s/%s (%s)\n", prog, t->step,
			dir, name, why);
}

static char *options_json(const struct options *o)
{
	json_t *steps = json_array();
	for (int i = 0; i < o->sched.n_decay; i++)
		json_array_append_new(steps, json_integer((json_int_t)o->sched.decay_steps[i]));
	json_t *j = json_pack(
		"{s:s, s:I, s:s, s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:o, s:f, s:f, s:f, s:I, s:I, s:I}",
		"arch", o->arch, "width", (json_int_t)o->width,
		"loss", o->loss.kind == MLI_LOSS_SOFTMAX ? "softmax" : "multilabel",
		"class_weights", o->loss.adaptive ? "adaptive" : "fixed",
		"neg_select", (double)o->loss.neg_select, "mask_thres", (double)o->loss.mask_thres,
		"lr", o->sched.lr, "lr_warmup", o->sched.lr_warmup,
		"warmup", (json_int_t)o->sched.warmup, "warmup_every", (json_int_t)o->sched.warmup_every,
		"warmup_factor", o->sched.warmup_factor, "lr_steps", steps,
		"momentum", o->momentum, "weight_decay", o->weight_decay,
		"batch_norm_decay", o->bn_decay, "seed", (json_int_t)o->seed,
		"freeze", (json_int_t)o->freeze, "split", (json_int_t)o->split);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return s;
}

/* Restores the state from a checkpoint (--resume) or weights (--init);
 * with --resume, also where the stream stood (into *was). */
static void restore(struct trainer *t, const char *path, int resume, struct stream_pos *was)
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
		if (stream_parse(mli_ckpt_meta(c, "stream"), t->rank, t->ranks, was) == -2) {
			fprintf(stderr, "%s: %s: made by another number of ranks than %d\n", prog,
				path, t->ranks);
			exit(PROGRAM_EXIT_FAILURE);
		}
		if (mli_parse_u64(step, UINT64_MAX, &t->step) < 0 ||
		    mli_parse_hex64(key, &t->rng.key) < 0 ||
		    mli_parse_u64(counter, UINT64_MAX, &t->rng.counter) < 0) {
			fprintf(stderr, "%s: %s: malformed step or random-number state in the metadata\n",
				prog, path);
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
	rc = mli_trainstate_load(c, t->net, resume ? t->momentum : NULL, resume ? &t->loss : NULL,
				 !resume, whybuf, sizeof whybuf);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, whybuf);
		exit(PROGRAM_EXIT_FAILURE);
	}
	mli_ckpt_free(c);
	if (!t->opt->quiet && t->rank == 0)
		fprintf(stderr, "%s: %s %s at step %" PRIu64 "\n", prog,
			resume ? "resuming from" : "weights from", path, t->step);
}

/* Checks a batch against the first one's shape; returns the image count,
 * 0 for a batch too small to train on (skipped with a warning: the last
 * batch of an epoch may be that small), or exits with a message. A batch
 * needs 2 images per part (batch norm needs 2). */
static size_t check_batch(const struct mli_record *rec, const struct mli_tensor *in,
			  const struct mli_tensor *tg, const struct mli_resnet_config *cfg,
			  size_t parts, uint64_t offset)
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
	if (!what && in->dims[0] < 2 * parts) {
		fprintf(stderr, "%s: stdin: offset %" PRIu64 ": batch %.*s: skipped: %" PRIu32
			" image%s (batch norm needs 2%s)\n", prog, offset,
			(int)(rec->key_len > 200 ? 200 : rec->key_len), rec->key ? rec->key : "",
			in->dims[0], in->dims[0] == 1 ? "" : "s", parts > 1 ? " per part" : "");
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

/* --resume given the whole stream again: the current batch is the
 * stream's first one past those consumed before the checkpoint's shape
 * was found. Passes over the batches the checkpoint had consumed, checks
 * that the last one passed is the one it recorded, and leaves the next
 * batch in rec (returns 0 when there is none). */
static int pass_over(struct trainer *t, const struct stream_pos *was, struct mli_reader *r,
		     struct mli_record *rec, struct mli_tensor *in, struct mli_tensor *tg)
{
	while (t->seen.batches < was->batches) {
		consume(t, rec);
		if (t->seen.batches == was->batches)
			break;
		if (!next_batch(r, rec, in, tg)) {
			if (stop_signal) {
				signal(stop_signal, SIG_DFL);
				raise(stop_signal);
			}
			fprintf(stderr, "%s: stdin: the stream ends after %" PRIu64 " batches, before "
				"the %" PRIu64 " the checkpoint was trained on\n", prog,
				t->seen.batches, was->batches);
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
	if (t->seen.batches != was->batches || t->seen.last != was->last) {
		fprintf(stderr, "%s: stdin: the stream starts with the checkpoint's first batch "
			"(%s) but its batch %" PRIu64 " (%s) is not the one trained on: not the "
			"stream it was trained on\n", prog, was->first_key, t->seen.batches,
			t->seen.last_key);
		exit(PROGRAM_EXIT_FAILURE);
	}
	if (!t->opt->quiet && t->rank == 0)
		fprintf(stderr, "%s: stdin: the whole stream again: passed over the %" PRIu64
			" batches trained on\n", prog, was->batches);
	return next_batch(r, rec, in, tg);
}

/* Makes every rank agree on the network and the options: rank 0's
 * parameter count, input shape, classes and options digest against
 * everyone's. */
static void agree(const struct trainer *t)
{
#ifdef MLI_HAVE_MPI
	const struct mli_resnet_config *c = &t->net->cfg;
	int64_t mine[6] = { (int64_t)t->net->n_floats, (int64_t)c->classes, (int64_t)c->in_c,
			    (int64_t)c->in_h, (int64_t)c->in_w,
			    (int64_t)mli_hash(t->options_json, strlen(t->options_json)) },
		root[6], bad[1];
	memcpy(root, mine, sizeof root);
	train_mpi_bcast_i64(root, 6);
	bad[0] = memcmp(root, mine, sizeof root) != 0;
	if (bad[0])
		fprintf(stderr, "%s: rank %d: the options or the first batch's shape differ from "
			"rank 0's\n", prog, t->rank);
	train_mpi_sum_i64(bad, 1);
	if (bad[0])
		exit(PROGRAM_EXIT_FAILURE);
#else
	(void)t;
#endif
}

static void log_step(FILE *tsv, FILE *jsonl, uint64_t step, double loss, double lr, double ips,
		     double secs)
{
	if (tsv) {
		fprintf(tsv, "%" PRIu64 "\t%.6f\t%.6g\t%.2f\t%.3f\n", step, loss, lr, ips, secs);
		fflush(tsv);
	}
	if (jsonl) {
		/* A NaN or infinite loss stops the run before it is logged, so
		 * every number here is finite JSON. */
		fprintf(jsonl, "{\"step\":%" PRIu64 ",\"loss\":%.6f,\"lr\":%.6g,\"images_per_s\":%.2f,"
			"\"seconds\":%.3f}\n", step, loss, lr, ips, secs);
		fflush(jsonl);
	}
}

static FILE *open_log(const char *path, int append, const char *header)
{
	FILE *f = fopen(path, append ? "a" : "w");
	if (!f)
		fail(path, MLI_ESYS);
	if (!append && header)
		fputs(header, f);
	return f;
}

int main(int argc, char **argv)
{
	struct options o;
	struct trainer t = { .ranks = 1 };
	struct mli_record rec;
	struct mli_tensor in, tg;
	struct mli_resnet_config cfg = { 0 };
	struct stream_pos was = { 0 };
	FILE *log = NULL, *jlog = NULL;
	int rc;

	program_init();
	parse_options(argc, argv, &o);
	t.opt = &o;
#ifdef MLI_HAVE_MPI
	if (o.mpi) {
		if (train_mpi_start(&argc, &argv, &t.rank, &t.ranks) < 0) {
			fprintf(stderr, "%s: --mpi: MPI does not start (run under mpirun)\n", prog);
			return PROGRAM_EXIT_FAILURE;
		}
		t.slice = getenv("MLI_TRAIN_TEST_SLICE") != NULL;
		t.rank_ckpts = getenv("MLI_TRAIN_TEST_RANK_CHECKPOINTS") != NULL;
		if (t.rank != 0)
			o.quiet = 1;
	}
#endif
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
	if (t.rank == 0 && mkdir(o.ckpt_dir, 0777) < 0 && errno != EEXIST)
		fail(o.ckpt_dir, MLI_ESYS);

	/* Parts of a batch in this process: --split, or the rank's share of
	 * a stream every rank reads (the test hook). */
	size_t parts = (size_t)o.split, share = t.slice ? (size_t)t.ranks : 1;
	struct mli_reader *r = mli_reader_open(0, NULL);
	if (!r)
		fail("reader", MLI_ENOMEM);
	if (!next_batch(r, &rec, &in, &tg)) {
		fprintf(stderr, "%s: stdin: no batch\n", prog);
		return PROGRAM_EXIT_FAILURE;
	}
	while (check_batch(&rec, &in, &tg, NULL, parts * share, mli_reader_record_offset(r)) == 0) {
		consume(&t, &rec);
		if (!next_batch(r, &rec, &in, &tg)) {
			fprintf(stderr, "%s: stdin: no batch of %zu images or more\n", prog,
				2 * parts * share);
			return PROGRAM_EXIT_FAILURE;
		}
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
	if (parts > 1 && posix_memalign((void **)&t.acc, 64, t.net->n_floats * sizeof(float)))
		fail("gradient sum", MLI_ENOMEM);
	if (!(t.sums = calloc(SUM_POS + cfg.classes, sizeof *t.sums)))
		fail("loss", MLI_ENOMEM);
	t.options_json = options_json(&o);
	if (!t.options_json)
		fail("options", MLI_ENOMEM);
	if (t.ranks > 1)
		agree(&t);

	struct mli_rng init;
	mli_rng_init(&init, o.seed, "init", 4, 0);
	mli_resnet_init(t.net, &init);
	mli_rng_init(&t.rng, o.seed, "negatives", 9, 0);
	int have = 1;
	if (o.resume) {
		uint64_t *steps;
		size_t n = mli_ckptdir_list(o.ckpt_dir, &steps);
		if (!n) {
			fprintf(stderr, "%s: %s: no checkpoint to resume from\n", prog, o.ckpt_dir);
			return PROGRAM_EXIT_FAILURE;
		}
		char path[4096], name[64];
		mli_ckptdir_name(name, sizeof name, steps[n - 1]);
		snprintf(path, sizeof path, "%s/%s", o.ckpt_dir, name);
		free(steps);
		restore(&t, path, 1, &was);
		/* The whole stream again when its first batch is the
		 * checkpoint's first; otherwise the continuation. */
		uint64_t first = t.seen.batches ? t.seen.first
						: mli_hash(rec.payload, rec.payload_len);
		if (was.batches && first == was.first)
			have = pass_over(&t, &was, r, &rec, &in, &tg);
		else
			t.base = was;
	} else if (o.init) {
		restore(&t, o.init, 0, NULL);
	}
	mli_resnet_freeze(t.net, (int)o.freeze);
	if (t.rank == 0 && o.log)
		log = open_log(o.log, o.resume, "step\tloss\tlr\timages_per_s\tseconds\n");
	if (t.rank == 0 && o.log_json)
		jlog = open_log(o.log_json, o.resume, NULL);
	if (!o.quiet)
		fprintf(stderr,
			"%s: %s width %ld, input %s, %zu classes, batch %zu, %.3g GMACs per image, "
			"%.3g M parameters, %.0f MiB activations, %d threads, kernels %s%s\n",
			prog, o.arch, o.width, t.in_shape, cfg.classes, cfg.batch,
			mli_resnet_macs(t.net) / 1e9, (double)t.net->n_floats / 1e6,
			(double)t.net->act_bytes / 1048576.0, mli_pool_threads(t.pool), kern->name,
			t.ranks > 1 ? ", over MPI ranks" : "");
	if (!o.quiet && t.ranks > 1)
		fprintf(stderr, "%s: %d ranks, each with its own stream\n", prog, t.ranks);

	double t0 = mli_now();
	uint64_t images = 0, steps_run = 0, skipped = 0;
	int stopped = 0;   /* the signal that stopped the run, on any rank */
	size_t k = cfg.classes, px = cfg.in_c * cfg.in_h * cfg.in_w;
	for (;;) {
		size_t n = 0;
		if (have && !stop_signal && (!o.max_steps || t.step < o.max_steps)) {
			n = check_batch(&rec, &in, &tg, &cfg, parts * share, mli_reader_record_offset(r));
			if (n == 0) {
				consume(&t, &rec);
				skipped++;
				have = next_batch(r, &rec, &in, &tg);
				continue;
			}
		}
		double ts = mli_now();
		/* This process's rows of the batch: all of them, or its share. */
		const uint8_t *src = in.data;
		const float *tgt = tg.data;
		size_t esize = in.dtype == MLI_DTYPE_U8 ? 1 : sizeof(float);
		if (n && share > 1) {
			size_t b = (size_t)t.rank * n / share, e = (size_t)(t.rank + 1) * n / share;
			src += b * px * esize;
			tgt += b * k;
			n = e - b;
		}
		memset(t.sums, 0, (SUM_POS + k) * sizeof *t.sums);
		t.sums[SUM_HAVE] = n > 0;
		t.sums[SUM_SIGINT] = stop_signal == SIGINT;
		t.sums[SUM_SIGTERM] = stop_signal == SIGTERM;
		if (n) {
			t.sums[SUM_IMAGES] = (int64_t)n;
			t.sums[SUM_ROWS] = (int64_t)mli_loss_rows(&t.loss, n, tgt);
			memset(t.loss.pos, 0, k * sizeof *t.loss.pos);
			mli_loss_positives(&t.loss, n, tgt, t.loss.pos);
			for (size_t j = 0; j < k; j++)
				t.sums[SUM_POS + j] = t.loss.pos[j];
		}
#ifdef MLI_HAVE_MPI
		if (t.ranks > 1)
			train_mpi_sum_i64(t.sums, SUM_POS + k);
#endif
		if (t.sums[SUM_HAVE] < t.ranks) {
			stopped = t.sums[SUM_SIGINT] ? SIGINT : t.sums[SUM_SIGTERM] ? SIGTERM : 0;
			if (t.rank == 0 && t.ranks > 1 && t.sums[SUM_HAVE] > 0 && !stopped &&
			    (!o.max_steps || t.step < o.max_steps))
				fprintf(stderr, "%s: step %" PRIu64 ": the stream of %" PRId64 " of the %d "
					"ranks has ended; every rank stops here\n", prog, t.step,
					t.ranks - t.sums[SUM_HAVE], t.ranks);
			break;
		}
		for (size_t j = 0; j < k; j++)
			t.loss.pos[j] = t.sums[SUM_POS + j] > 0;
		mli_loss_begin(&t.loss, &t.rng, t.loss.pos);
		size_t rows = (size_t)t.sums[SUM_ROWS];
		double l = 0;
		for (size_t h = 0; h < parts; h++) {
			size_t b = h * n / parts, e = (h + 1) * n / parts;
			if (in.dtype == MLI_DTYPE_U8)
				mli_resnet_input_u8(t.net, e - b, src + b * px);
			else
				mli_resnet_input_f32(t.net, e - b, (const float *)src + b * px);
			if ((rc = mli_resnet_forward(t.net, t.pool, e - b, 1)) < 0)
				fail("forward", rc);
			l += mli_loss_part(&t.loss, e - b, t.net->logits, tgt + b * k, rows,
					   t.net->dlogits);
			if ((rc = mli_resnet_backward(t.net, t.pool, e - b)) < 0)
				fail("backward", rc);
			if (parts > 1) {
				float *g = t.net->grads, *a = t.acc;
				if (h == 0)
					memcpy(a, g, t.net->n_floats * sizeof *a);
				else
					for (size_t x = 0; x < t.net->n_floats; x++)
						a[x] += g[x];
			}
		}
		if (parts > 1)
			memcpy(t.net->grads, t.acc, t.net->n_floats * sizeof *t.acc);
#ifdef MLI_HAVE_MPI
		if (t.ranks > 1) {
			train_mpi_sum_f64(&l, 1);
			if (isfinite(l))
				train_mpi_sum_f32(t.net->grads, t.net->n_floats);
		}
#endif
		if (!isfinite(l)) {
			if (t.rank == 0)
				fprintf(stderr,
					"%s: step %" PRIu64 ": the loss is %s; stopping (the last "
					"checkpoint in %s is kept; try a lower --lr)\n",
					prog, t.step + 1, isnan(l) ? "NaN" : "infinite", o.ckpt_dir);
#ifdef MLI_HAVE_MPI
			/* Every rank saw the same sum: all stop here together. */
			if (o.mpi)
				train_mpi_finish();
#endif
			return PROGRAM_EXIT_FAILURE;
		}
		double lr = mli_schedule_lr(&o.sched, t.step);
		mli_sgd_step(t.net, t.pool, t.momentum, (float)lr, (float)o.momentum,
			     (float)o.weight_decay);
		consume(&t, &rec);
		t.step++;
		steps_run++;
		images += (uint64_t)t.sums[SUM_IMAGES];
		double now = mli_now(), ips = (double)t.sums[SUM_IMAGES] / (now - ts);
		if (!o.quiet)
			fprintf(stderr, "%s: step %" PRIu64 " loss %.6f lr %.6g images/s %.1f\n", prog,
				t.step, l, lr, ips);
		log_step(log, jlog, t.step, l, lr, ips, now - t0);
		if (o.snapshot && t.step % (uint64_t)o.snapshot == 0)
			save(&t, "snapshot");
		if (o.max_steps && t.step >= o.max_steps)
			have = 0;
		else if (!stop_signal)
			have = next_batch(r, &rec, &in, &tg);
	}
	if (stopped) {
		save(&t, stopped == SIGINT ? "interrupted" : "terminated");
	} else if (!o.snapshot || t.step % (uint64_t)o.snapshot != 0) {
		save(&t, "end");
	}
	double secs = mli_now() - t0;
	if (t.rank == 0)
		fprintf(stderr, "%s: %" PRIu64 " steps, %" PRIu64 " images, %" PRIu64 " batches "
			"skipped, %.1f images/s, at step %" PRIu64 ", %.1f s\n", prog, steps_run,
			images, skipped, secs > 0 ? (double)images / secs : 0.0, t.step, secs);
	if (log && fclose(log) != 0)
		fail(o.log, MLI_ESYS);
	if (jlog && fclose(jlog) != 0)
		fail(o.log_json, MLI_ESYS);
	mli_reader_free(r);
	mli_loss_free(&t.loss);
	mli_resnet_free(t.net);
	mli_pool_destroy(t.pool);
	free(t.momentum);
	free(t.acc);
	free(t.sums);
	free(t.options_json);
#ifdef MLI_HAVE_MPI
	if (t.ranks > 1 || o.mpi)
		train_mpi_finish();
#endif
	if (stop_signal) {
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
	return 0;
}

/* mli-augment: image records in, image records at the network's input
 * size out: the original training augmentation (--train), the central
 * evaluation crop (--eval) or the ten crops of the feature extractor
 * (--ten-crop). The image work is in libcore (augment.h); this file parses
 * options, reads records in chunks and runs each chunk on the thread pool
 * (threadpool.h) while the pool's first thread writes the chunk before,
 * in input order, and reads the next.
 *
 * A record's random choices come from a stream keyed by --seed, the
 * record's KEY and --epoch (random.h), and each record is worked on by one
 * thread alone, so the output is the same bytes whatever --threads is and
 * whatever order the records arrive in. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment.h"
#include "mli.h"
#include "program.h"
#include "random.h"
#include "resize.h"
#include "threadpool.h"

static const char *const prog = "mli-augment";

#define THREADS_MAX 256
#define SIZE_DEFAULT 224
#define RESIZE_DEFAULT 256
#define CENTRAL_DEFAULT 0.8

enum mode { MODE_NONE, MODE_TRAIN, MODE_EVAL, MODE_TEN_CROP };

struct options {
	enum mode mode;
	uint32_t size;
	uint64_t seed, epoch;
	struct mli_augment_params params;
	double central;
	uint32_t resize;
	int threads;
	int level;
	int progress_mode;
	char **files;
	int n_files;
};

/* One record on its way through: its key, labels and pixels copied out of
 * the reader's buffer, then the views made of it. */
struct job {
	const char *skip;          /* a reason not to use the record, or NULL */
	int rc;                    /* 0, or the MLI_E* code of a failure */
	struct mli_record_copy in; /* the record, owned by the job */
	const uint8_t *pixels;     /* [h, w, c], in the copy */
	uint32_t h, w, c;
	int n_out;                 /* views made: 1, or 10 with --ten-crop */
	uint8_t *out;              /* [n_out, size, size, c] */
	size_t out_cap;
	uint8_t *scratch;          /* augment scratch, or the resized image */
	size_t scratch_cap;
};

/* A chunk of jobs: records read together, worked on together and written
 * in order. */
struct chunk {
	struct job *jobs;
	size_t n;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s -t | -e | -T [-pq] [-S N] [--seed S] [--epoch E] [-j N] [-L LEVEL]\n"
		"       [--area LO,HI] [--aspect LO,HI] [--attempts N] [--flip P] [--rotate P]\n"
		"       [--max-angle DEG] [--color P] [--brightness D] [--saturation LO,HI]\n"
		"       [--hue D] [--contrast LO,HI] [--central F] [--resize N] [FILE ...]\n"
		"Crop, resize and distort image records for training or evaluation\n"
		"(stdin when no FILE or FILE is -).\n"
		"\n"
		"  -t, --train           the original training augmentation\n"
		"  -e, --eval            the central --central of the image\n"
		"  -T, --ten-crop        four corners, centre and their mirrors of the image\n"
		"                        scaled to --resize on the short side\n"
		"  -S, --size N          output N x N pixels (default %d)\n"
		"      --seed S          seed of the random choices (default 0)\n"
		"      --epoch E         epoch, mixed into each record's choices (default 0)\n"
		"      --area LO,HI      crop area fraction (default 0.7,1)\n"
		"      --aspect LO,HI    crop aspect ratio, width/height (default 0.75,1.33)\n"
		"      --attempts N      crop boxes tried before the whole image (default 100)\n"
		"      --flip P          probability of a mirror image (default 0.5)\n"
		"      --rotate P        probability of a rotation (default 0.333333)\n"
		"      --max-angle DEG   largest rotation, degrees (default 45)\n"
		"      --color P         probability of colour distortion (default 0.666667)\n"
		"      --brightness D    largest brightness change, of 255 (default 32)\n"
		"      --saturation LO,HI  saturation factor (default 0.5,1.5)\n"
		"      --hue D           largest hue change, of the circle (default 0.2)\n"
		"      --contrast LO,HI  contrast factor (default 0.5,1.5)\n"
		"      --central F       --eval: fraction of each side kept (default %.1f)\n"
		"      --resize N        --ten-crop: short side before cropping (default %d)\n"
		"  -j, --threads N       work on N threads (default: every online CPU)\n"
		"  -L, --level LEVEL     compress the output frames at zstd LEVEL (default 0: none)\n"
		"  -p, --progress        show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet           no progress, no summary\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n",
		prog, SIZE_DEFAULT, CENTRAL_DEFAULT, RESIZE_DEFAULT);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
	uint64_t v;

	if (mli_parse_u64(s, UINT64_MAX, &v) < 0)
		program_usage_error(prog, "%s: not a whole number: '%s'", opt, s);
	return v;
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (mli_parse_double(s, lo, hi, &v) < 0)
		program_usage_error(prog, "%s: not a number from %g to %g: '%s'", opt, lo, hi, s);
	return v;
}

/* "LO,HI" with lo <= LO <= HI <= hi. */
static void parse_range(const char *opt, const char *s, double lo, double hi, double *a, double *b)
{
	if (mli_parse_range(s, lo, hi, a, b) < 0)
		program_usage_error(prog, "%s: not LO,HI with %g <= LO <= HI <= %g: '%s'", opt, lo, hi, s);
}

static uint32_t parse_side(const char *opt, const char *s)
{
	long v;

	if (mli_parse_long(s, 1, 8192, &v) < 0)
		program_usage_error(prog, "%s: not a size from 1 to 8192: '%s'", opt, s);
	return (uint32_t)v;
}

static void set_mode(struct options *o, enum mode m)
{
	if (o->mode && o->mode != m)
		program_usage_error(prog, "--train, --eval and --ten-crop exclude each other");
	o->mode = m;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_SEED = 256, OPT_EPOCH, OPT_AREA, OPT_ASPECT, OPT_ATTEMPTS, OPT_FLIP, OPT_ROTATE,
	       OPT_MAX_ANGLE, OPT_COLOR, OPT_BRIGHTNESS, OPT_SATURATION, OPT_HUE, OPT_CONTRAST,
	       OPT_CENTRAL, OPT_RESIZE };
	static const struct option longopts[] = {
		{ "train", no_argument, NULL, 't' },
		{ "eval", no_argument, NULL, 'e' },
		{ "ten-crop", no_argument, NULL, 'T' },
		{ "size", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "epoch", required_argument, NULL, OPT_EPOCH },
		{ "area", required_argument, NULL, OPT_AREA },
		{ "aspect", required_argument, NULL, OPT_ASPECT },
		{ "attempts", required_argument, NULL, OPT_ATTEMPTS },
		{ "flip", required_argument, NULL, OPT_FLIP },
		{ "rotate", required_argument, NULL, OPT_ROTATE },
		{ "max-angle", required_argument, NULL, OPT_MAX_ANGLE },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "brightness", required_argument, NULL, OPT_BRIGHTNESS },
		{ "saturation", required_argument, NULL, OPT_SATURATION },
		{ "hue", required_argument, NULL, OPT_HUE },
		{ "contrast", required_argument, NULL, OPT_CONTRAST },
		{ "central", required_argument, NULL, OPT_CENTRAL },
		{ "resize", required_argument, NULL, OPT_RESIZE },
		{ "threads", required_argument, NULL, 'j' },
		{ "level", required_argument, NULL, 'L' },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct mli_augment_params *p = &o->params;
	long v;
	int c;

	memset(o, 0, sizeof *o);
	mli_augment_defaults(p);
	o->size = SIZE_DEFAULT;
	o->central = CENTRAL_DEFAULT;
	o->resize = RESIZE_DEFAULT;
	/* Pixels gain little from zstd and cost its time: raw by default. */
	o->level = -1;
	v = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = v < 1 ? 1 : v > THREADS_MAX ? THREADS_MAX : (int)v;
	while ((c = getopt_long(argc, argv, "teTS:j:L:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': set_mode(o, MODE_TRAIN); break;
		case 'e': set_mode(o, MODE_EVAL); break;
		case 'T': set_mode(o, MODE_TEN_CROP); break;
		case 'S': o->size = parse_side("--size", optarg); break;
		case OPT_SEED: o->seed = parse_u64("--seed", optarg); break;
		case OPT_EPOCH: o->epoch = parse_u64("--epoch", optarg); break;
		case OPT_AREA:
			parse_range("--area", optarg, 0, 1, &p->area_min, &p->area_max);
			if (p->area_min <= 0)
				program_usage_error(prog, "--area: LO must be more than 0");
			break;
		case OPT_ASPECT:
			parse_range("--aspect", optarg, 0.01, 100, &p->aspect_min, &p->aspect_max);
			break;
		case OPT_ATTEMPTS:
			if (mli_parse_long(optarg, 0, 100000, &v) < 0)
				program_usage_error(prog, "--attempts: not a count from 0 to 100000: '%s'", optarg);
			p->attempts = (int)v;
			break;
		case OPT_FLIP: p->flip_prob = parse_num("--flip", optarg, 0, 1); break;
		case OPT_ROTATE: p->rotate_prob = parse_num("--rotate", optarg, 0, 1); break;
		case OPT_MAX_ANGLE: p->rotate_max = parse_num("--max-angle", optarg, 0, 180); break;
		case OPT_COLOR: p->color_prob = parse_num("--color", optarg, 0, 1); break;
		case OPT_BRIGHTNESS: p->brightness = parse_num("--brightness", optarg, 0, 255) / 255; break;
		case OPT_SATURATION:
			parse_range("--saturation", optarg, 0, 100, &p->saturation_min, &p->saturation_max);
			break;
		case OPT_HUE: p->hue = parse_num("--hue", optarg, 0, 0.5); break;
		case OPT_CONTRAST:
			parse_range("--contrast", optarg, 0, 100, &p->contrast_min, &p->contrast_max);
			break;
		case OPT_CENTRAL:
			o->central = parse_num("--central", optarg, 0, 1);
			if (o->central <= 0)
				program_usage_error(prog, "--central: must be more than 0");
			break;
		case OPT_RESIZE: o->resize = parse_side("--resize", optarg); break;
		case 'j':
			if (mli_parse_long(optarg, 1, THREADS_MAX, &v) < 0)
				program_usage_error(prog, "--threads: not a count from 1 to %d: '%s'",
						    THREADS_MAX, optarg);
			o->threads = (int)v;
			break;
		case 'L':
			if (mli_parse_long(optarg, 0, 19, &v) < 0)
				program_usage_error(prog, "--level: not a level from 0 to 19: '%s'", optarg);
			o->level = v ? (int)v : -1;
			break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (!o->mode)
		program_usage_error(prog, "one of --train, --eval and --ten-crop is needed");
	if (o->mode == MODE_TEN_CROP && o->resize < o->size)
		program_usage_error(prog, "--resize is less than --size");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

/* ---- jobs ---- */

static int reserve(uint8_t **p, size_t *cap, size_t need)
{
	uint8_t *q;

	if (need <= *cap)
		return 0;
	if (!(q = realloc(*p, need)))
		return MLI_ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

/* Keeps what the output needs beyond the reader's next call. */
static int job_fill(struct job *j, const struct mli_record *rec)
{
	struct mli_tensor px;
	const char *why;
	int rc;

	j->skip = NULL;
	j->rc = 0;
	j->n_out = 0;
	j->pixels = NULL;
	if ((rc = mli_record_copy(&j->in, rec)) < 0)
		return rc;
	if (rec->type != MLI_TYPE_IMAGE || mli_record_tensor(&j->in.rec, MLI_TAG_PIXELS, &px, &why) < 0) {
		j->skip = "not-image";
		return 0;
	}
	j->h = px.dims[0];
	j->w = px.dims[1];
	j->c = px.dims[2];
	j->pixels = px.data;
	return 0;
}

/* The work of one record, on any thread; it touches only the job. */
static void job_run(struct job *j, const struct options *o)
{
	size_t view = (size_t)o->size * o->size * j->c;
	const uint8_t *src = j->pixels;
	uint32_t rh, rw;

	if (j->skip)
		return;
	j->n_out = o->mode == MODE_TEN_CROP ? MLI_TEN_CROP : 1;
	if ((j->rc = reserve(&j->out, &j->out_cap, view * (size_t)j->n_out)) < 0)
		return;
	switch (o->mode) {
	case MODE_TRAIN: {
		struct mli_augment_draw d;
		struct mli_rng rng;
		if ((j->rc = reserve(&j->scratch, &j->scratch_cap,
				     mli_augment_scratch_size(o->size, j->c))) < 0)
			return;
		mli_rng_init(&rng, o->seed, j->in.rec.key, j->in.rec.key_len, o->epoch);
		mli_augment_draw(&o->params, &rng, j->h, j->w, &d);
		j->rc = mli_augment_apply(&d, src, j->h, j->w, j->c, j->out, o->size, j->scratch);
		break;
	}
	case MODE_EVAL:
		j->rc = mli_augment_eval(src, j->h, j->w, j->c, o->central, j->out, o->size);
		break;
	case MODE_TEN_CROP:
		mli_augment_short_side(j->h, j->w, o->resize, &rh, &rw);
		if (rh != j->h || rw != j->w) {
			if ((j->rc = reserve(&j->scratch, &j->scratch_cap, (size_t)rh * rw * j->c)) < 0
			    || (j->rc = mli_resize(src, j->h, j->w, (size_t)j->w * j->c, j->c, j->scratch,
						   rh, rw)) < 0)
				return;
			src = j->scratch;
		}
		j->rc = mli_augment_ten_crop(src, rh, rw, j->c, j->out, o->size);
		break;
	default:
		break;
	}
}

/* ---- output ---- */

struct run {
	const struct options *opt;
	struct mli_writer *w;
	struct mli_pool *pool;
	struct chunk chunks[2];    /* one worked on while the other is written and refilled */
	size_t chunk_cap;          /* jobs in each */
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t bytes_before;
	/* The input being read. */
	const char *name;
	struct mli_reader *rd;
	int rc;                    /* the reader's last return */
	int failed;
};

static void write_views(struct run *r, const struct job *j)
{
	size_t view = (size_t)r->opt->size * r->opt->size * j->c;
	uint32_t dims[3] = { r->opt->size, r->opt->size, j->c };
	void *data;
	int rc;

	for (int v = 0; v < j->n_out; v++) {
		uint32_t idx = (uint32_t)v;
		if ((rc = mli_writer_begin(r->w, MLI_TYPE_IMAGE)) < 0
		    || (j->in.rec.key_len && (rc = mli_writer_key(r->w, j->in.rec.key, j->in.rec.key_len)) < 0)
		    || (rc = mli_writer_labels(r->w, j->in.rec.labels, j->in.rec.n_labels)) < 0
		    || (rc = mli_writer_tensor_reserve(r->w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, &data)) < 0)
			program_output_failed(prog, rc);
		memcpy(data, j->out + (size_t)v * view, view);
		if ((r->opt->mode == MODE_TEN_CROP
		     && (rc = mli_writer_field(r->w, MLI_TAG_VIEW, &idx, 4)) < 0)
		    || (rc = mli_writer_end(r->w)) < 0)
			program_output_failed(prog, rc);
	}
}

/* Writes the views of a worked chunk, in order; a job that failed ends the
 * run (after reporting). */
static void write_chunk(struct run *r, const struct chunk *ch)
{
	for (size_t k = 0; k < ch->n && !r->failed; k++) {
		const struct job *j = &ch->jobs[k];
		r->tally.in++;
		if (j->skip) {
			mli_tally_skip(&r->tally, j->skip, 1);
		} else if (j->rc < 0) {
			mli_progress_end(&r->progress);
			fprintf(stderr, "%s: %s: %.*s: %s\n", prog, r->name, (int)j->in.rec.key_len, j->in.rec.key,
				mli_strerror(j->rc));
			r->failed = 1;
		} else {
			write_views(r, j);
			r->tally.out += (uint64_t)j->n_out;
		}
	}
	mli_progress_update(&r->progress, r->tally.in, r->bytes_before + mli_reader_stats(r->rd)->offset,
			    mli_tally_skipped(&r->tally));
}

/* Reads the next records into ch (none once the input has ended, failed or
 * the run has; none either, without wait, when the input has nothing
 * ready). */
static void read_chunk(struct run *r, struct chunk *ch, int wait)
{
	struct mli_record rec;

	ch->n = 0;
	/* A chunk is cut short when the input would keep it waiting: the
	 * records in hand are worked on and written meanwhile. */
	while (!r->failed && r->rc > 0 && ch->n < r->chunk_cap
	       && ((ch->n == 0 && wait) || mli_reader_ready(r->rd))
	       && (r->rc = mli_reader_next(r->rd, &rec)) > 0) {
		if (job_fill(&ch->jobs[ch->n++], &rec) < 0) {
			fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
}

/* One step of the pipeline on the pool: share 0 (on whichever thread
 * takes it) writes the chunk before and reads the next into its place,
 * then joins the others on the current chunk, whose jobs are taken by an
 * atomic counter (which decides only who works on a job, never its
 * result). */
struct step {
	struct run *r;
	struct chunk *work, *io;
	int write_io;              /* io holds a worked chunk to write first */
	atomic_size_t next;
};

static void step_run(void *arg, int i, int n)
{
	struct step *st = arg;
	size_t k;

	if (i == 0) {
		if (st->write_io)
			write_chunk(st->r, st->io);
		read_chunk(st->r, st->io, 0);
	}
	(void)n;
	while ((k = atomic_fetch_add(&st->next, 1)) < st->work->n)
		job_run(&st->work->jobs[k], st->r->opt);
}

/* Works through one input. Returns 0, or -1 after reporting a fault. */
static int augment_input(void *ctx, const char *name, int fd)
{
	struct run *r = ctx;
	struct chunk *work = &r->chunks[0], *io = &r->chunks[1];
	struct step st;

	if (!(r->rd = mli_reader_open(fd, NULL))) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_strerror(MLI_ENOMEM));
		exit(PROGRAM_EXIT_FAILURE);
	}
	/* Records done go out before a wait for more input (share 0 both
	 * reads and writes). */
	mli_reader_on_wait(r->rd, mli_writer_flush_hook, r->w);
	r->name = name;
	r->rc = 1;
	read_chunk(r, work, 1);
	st.r = r;
	st.write_io = 0;
	while (work->n) {
		struct chunk *t;
		st.work = work;
		st.io = io;
		atomic_init(&st.next, 0);
		mli_pool_run(r->pool, step_run, &st);
		st.write_io = 1;
		if (io->n == 0) {
			/* Nothing was ready to read (or the input is over): the
			 * chunk just worked goes out now, not after a wait on a
			 * slow producer, and only then is the input waited on. */
			write_chunk(r, work);
			read_chunk(r, io, 1);
			st.write_io = 0;
		}
		/* The chunk just worked is written in the next step, while the
		 * one just read is worked. */
		t = work;
		work = io;
		io = t;
	}
	if (st.write_io)
		write_chunk(r, io);
	r->bytes_before += mli_reader_stats(r->rd)->offset;
	if (!r->failed && r->rc < 0) {
		mli_progress_end(&r->progress);
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_reader_message(r->rd));
		r->failed = 1;
	}
	mli_reader_free(r->rd);
	r->rd = NULL;
	return r->failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct mli_writer_options wo;
	struct options o;
	struct run r;
	int failed, rc;

	program_init();
	/* Images of a few hundred kilobytes are copied in and out of every
	 * job and resized through temporary buffers. */
	program_keep_heap((size_t)256 << 20, (size_t)512 << 20);
	parse_options(argc, argv, &o);
	program_refuse_terminal(prog);
	memset(&r, 0, sizeof r);
	r.opt = &o;
	wo.level = o.level;
	/* Chunks of a few records per thread keep every thread busy while
	 * the sizes of images vary. */
	r.chunk_cap = (size_t)o.threads * 8;
	r.chunks[0].jobs = calloc(r.chunk_cap, sizeof(struct job));
	r.chunks[1].jobs = calloc(r.chunk_cap, sizeof(struct job));
	if (!(r.w = mli_writer_open(STDOUT_FILENO, &wo)) || !r.chunks[0].jobs || !r.chunks[1].jobs) {
		fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	if ((rc = mli_pool_create(&r.pool, o.threads)) < 0) {
		fprintf(stderr, "%s: cannot start threads: %s\n", prog, mli_strerror(rc));
		return PROGRAM_EXIT_FAILURE;
	}
	mli_progress_init(&r.progress, stderr, prog, "records",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO),
			  program_input_size(o.files, o.n_files));

	failed = program_each_input(prog, o.files, o.n_files, &r.progress, augment_input, &r) < 0;
	mli_pool_destroy(r.pool);
	mli_progress_end(&r.progress);

	/* After a fault the output keeps its whole frames but no end frame,
	 * so that a consumer sees it as truncated. */
	rc = failed ? mli_writer_flush(r.w) : mli_writer_finish(r.w);
	if (rc < 0)
		program_output_failed(prog, rc);
	mli_writer_free(r.w);
	for (int c = 0; c < 2; c++) {
		for (size_t k = 0; k < r.chunk_cap; k++) {
			mli_record_copy_free(&r.chunks[c].jobs[k].in);
			free(r.chunks[c].jobs[k].out);
			free(r.chunks[c].jobs[k].scratch);
		}
		free(r.chunks[c].jobs);
	}
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (r.progress.enabled || mli_tally_skipped(&r.tally)))
		mli_tally_print(&r.tally, stderr, prog, mli_now() - r.progress.t0);
	return failed ? PROGRAM_EXIT_FAILURE : 0;
}

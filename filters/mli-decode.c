/* mli-decode: encoded images in, pixels (or re-encoded JPEGs) out.
 *
 * Reads ENCODED records from each FILE (or stdin) and writes, in input
 * order, one IMAGE record per usable image (PIXELS [height, width, 3]
 * uint8 RGB, KEY and LABELS carried over) or, with --encode, one ENCODED
 * JPEG record at the new size. The decoding is in libcore (decode.h); this
 * file parses options, feeds a fixed set of jobs to --threads workers,
 * and writes the results in the order they were read, so that the output
 * is the same bytes whatever the number of threads (or, with --unordered,
 * as they finish). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "jpeg.h"
#include "mli.h"
#include "program.h"

static const char *const prog = "mli-decode";

#define THREADS_MAX 256
#define MAX_PIXELS_DEFAULT (100ULL * 1000 * 1000)
#define MAX_SCANS_DEFAULT 100

struct options {
	struct mli_decode_options dopt;
	int quality;              /* --encode: JPEG quality; 0: write pixels */
	int threads;
	int strict;
	int unordered;            /* write records as they finish */
	int level;                /* zstd level of the output; -1: none */
	const char *failures;
	int progress_mode;
	char **files;
	int n_files;
};

enum job_state { JOB_FREE, JOB_QUEUED, JOB_DONE };

/* One record on its way through: the input fields copied out of the
 * reader's buffer, then the result. */
struct job {
	enum job_state state;
	struct mli_record_copy in; /* the record, owned by the job */
	const struct mli_field *blob, *source; /* in the copy, or NULL */
	int rc;                    /* 0, or MLI_E* with fault set */
	const char *skip;          /* a reason that is not a decode fault */
	struct mli_fault fault;
	struct mli_image img;      /* pixels [height, width, 3] */
	uint8_t *jpeg;             /* --encode output */
	size_t jpeg_len;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job *jobs;
	size_t n_jobs;
	/* Rings of job indices, n_jobs long: queued for the workers, and
	 * (--unordered only) done in the order they finished. */
	size_t *queued, *finished;
	uint64_t queued_head, queued_tail, finished_head, finished_tail;
	/* Jobs free for the next records (the main thread's alone). */
	size_t *free_jobs;
	size_t n_free;
	int unordered;
	int stop;
	const struct options *opt;
	pthread_t *threads;
	int n_threads;
	struct mli_decoder *dec;   /* the main thread's, when it decodes (no workers) */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-pq] [-s N] [-m N] [-S WxH] [--upscale] [-e Q] [-j N] [--unordered] [-L LEVEL]\n"
		"       [--fast] [--max-pixels N] [--max-scans N] [--lenient] [--strict] [--failures FILE]\n"
		"       [FILE ...]\n"
		"Decode encoded-image records to pixels (stdin when no FILE or FILE is -).\n"
		"\n"
		"  -s, --short-side N    scale so that the shorter side is N pixels\n"
		"  -m, --max-side N      scale so that the longer side is at most N pixels\n"
		"  -S, --size WxH        resize to exactly W by H pixels\n"
		"      --upscale         let --short-side and --max-side enlarge images\n"
		"  -e, --encode Q        write JPEG records of quality Q (1-100) instead of pixels\n"
		"  -j, --threads N       decode on N threads (default: every online CPU)\n"
		"      --unordered       write records as they are done, not in input order\n"
		"  -L, --level LEVEL     compress the output frames at zstd LEVEL (default 0: none)\n"
		"      --fast            libjpeg's fast IDCT and plain chroma upsampling (slightly less exact)\n"
		"      --max-pixels N    skip images of more than N pixels (default 100M)\n"
		"      --max-scans N     skip JPEGs of more than N scans (default %d; 0: no cap)\n"
		"      --lenient         decode JPEGs despite libjpeg's warnings\n"
		"      --strict          stop at the first record that cannot be decoded\n"
		"      --failures FILE   append a line per skipped record: key, reason, detail\n"
		"  -p, --progress        show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet           no progress, no messages about skipped records, no summary\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n", prog, MAX_SCANS_DEFAULT);
}

static uint32_t parse_side(const char *opt, const char *s)
{
	long v;

	if (mli_parse_long(s, 1, 65500, &v) < 0)
		program_usage_error(prog, "%s: not a size from 1 to 65500: '%s'", opt, s);
	return (uint32_t)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_UPSCALE = 256, OPT_MAX_PIXELS, OPT_MAX_SCANS, OPT_LENIENT, OPT_STRICT, OPT_FAILURES,
	       OPT_UNORDERED, OPT_FAST };
	static const struct option longopts[] = {
		{ "short-side", required_argument, NULL, 's' },
		{ "max-side", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 'S' },
		{ "upscale", no_argument, NULL, OPT_UPSCALE },
		{ "encode", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 'j' },
		{ "unordered", no_argument, NULL, OPT_UNORDERED },
		{ "level", required_argument, NULL, 'L' },
		{ "fast", no_argument, NULL, OPT_FAST },
		{ "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
		{ "max-scans", required_argument, NULL, OPT_MAX_SCANS },
		{ "lenient", no_argument, NULL, OPT_LENIENT },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "failures", required_argument, NULL, OPT_FAILURES },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t size;
	long v;
	int c;

	memset(o, 0, sizeof *o);
	o->dopt.max_pixels = MAX_PIXELS_DEFAULT;
	o->dopt.max_scans = MAX_SCANS_DEFAULT;
	/* Decoded pixels gain little from zstd (10-20% on photographs) and
	 * JPEGs nothing, while level 3 costs more than the decode of a
	 * 640-pixel photo: frames are stored raw unless asked. */
	o->level = -1;
	v = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = v < 1 ? 1 : v > THREADS_MAX ? THREADS_MAX : (int)v;
	while ((c = getopt_long(argc, argv, "s:m:S:e:j:L:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->dopt.short_side = parse_side("--short-side", optarg); break;
		case 'm': o->dopt.max_side = parse_side("--max-side", optarg); break;
		case 'S': {
			char *x = strchr(optarg, 'x');
			if (!x)
				program_usage_error(prog, "--size: not WxH: '%s'", optarg);
			*x = '\0';
			o->dopt.width = parse_side("--size", optarg);
			o->dopt.height = parse_side("--size", x + 1);
			*x = 'x';
			break;
		}
		case OPT_UPSCALE: o->dopt.upscale = 1; break;
		case 'e':
			if (mli_parse_long(optarg, 1, 100, &v) < 0)
				program_usage_error(prog, "--encode: not a quality from 1 to 100: '%s'", optarg);
			o->quality = (int)v;
			break;
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
		case OPT_MAX_PIXELS:
			if (mli_parse_size(optarg, UINT64_C(1) << 40, &size) < 0 || size < 1)
				program_usage_error(prog, "--max-pixels: not a count from 1 to 1T: '%s'", optarg);
			o->dopt.max_pixels = size;
			break;
		case OPT_MAX_SCANS:
			if (mli_parse_long(optarg, 0, INT_MAX, &v) < 0)
				program_usage_error(prog, "--max-scans: not a count: '%s'", optarg);
			o->dopt.max_scans = (int)v;
			break;
		case OPT_LENIENT: o->dopt.lenient = 1; break;
		case OPT_FAST: o->dopt.fast = 1; break;
		case OPT_STRICT: o->strict = 1; break;
		case OPT_UNORDERED: o->unordered = 1; break;
		case OPT_FAILURES: o->failures = optarg; break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (o->dopt.width && (o->dopt.short_side || o->dopt.max_side))
		program_usage_error(prog, "--size excludes --short-side and --max-side");
	if (o->dopt.width && o->dopt.upscale)
		program_usage_error(prog, "--upscale applies to --short-side and --max-side only");
	if ((uint64_t)o->dopt.width * o->dopt.height > o->dopt.max_pixels)
		program_usage_error(prog, "--size is more than --max-pixels");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

/* ---- jobs ---- */

/* Keeps what the output needs beyond the reader's next call. */
static int job_fill(struct job *j, const struct mli_record *rec)
{
	int rc;

	if ((rc = mli_record_copy(&j->in, rec)) < 0)
		return rc;
	j->blob = mli_record_field(&j->in.rec, MLI_TAG_BLOB);
	j->source = mli_record_field(&j->in.rec, MLI_TAG_SOURCE);
	j->rc = 0;
	j->skip = NULL;
	j->fault.reason = MLI_FAULT_NONE;
	return 0;
}

/* The work of one record, on any thread; it touches only the job and
 * the thread's decoder (NULL if it could not have one). */
static void job_run(struct job *j, const struct options *o, struct mli_decoder *dec)
{
	if (j->in.rec.type != MLI_TYPE_ENCODED) {
		j->skip = "not-encoded";
		return;
	}
	j->rc = mli_decode_with(dec, j->blob->data, j->blob->size, &o->dopt, &j->img, &j->fault);
	if (j->rc < 0 || !o->quality)
		return;
	j->rc = mli_jpeg_encode(j->img.pixels, j->img.width, j->img.height, o->quality, &j->jpeg,
				&j->jpeg_len);
	if (j->rc < 0)
		mli_fault_set(&j->fault, MLI_FAULT_NOMEM, "cannot encode: %s", mli_strerror(j->rc));
	free(j->img.pixels);
	j->img.pixels = NULL;
}

static void job_clear(struct job *j)
{
	free(j->img.pixels);
	j->img.pixels = NULL;
	free(j->jpeg);
	j->jpeg = NULL;
	j->state = JOB_FREE;
}

/* ---- the pool: workers take queued jobs in the order queued ---- */

/* Marks a job done (with the lock held, when there are workers). */
static void job_done(struct pool *p, size_t slot)
{
	p->jobs[slot].state = JOB_DONE;
	if (p->unordered)
		p->finished[p->finished_tail++ % p->n_jobs] = slot;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct mli_decoder *dec;

	if (mli_decoder_new(&dec) < 0)
		dec = NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->queued_head == p->queued_tail)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->queued_head == p->queued_tail)
			break;
		size_t slot = p->queued[p->queued_head++ % p->n_jobs];
		pthread_mutex_unlock(&p->mu);
		job_run(&p->jobs[slot], p->opt, dec);
		pthread_mutex_lock(&p->mu);
		job_done(p, slot);
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	mli_decoder_free(dec);
	return NULL;
}

static int pool_start(struct pool *p, const struct options *o)
{
	memset(p, 0, sizeof *p);
	p->opt = o;
	p->unordered = o->unordered;
	p->n_jobs = o->threads == 1 ? 1 : (size_t)o->threads * 4;
	p->jobs = calloc(p->n_jobs, sizeof *p->jobs);
	p->queued = calloc(p->n_jobs, sizeof *p->queued);
	p->finished = calloc(p->n_jobs, sizeof *p->finished);
	p->free_jobs = calloc(p->n_jobs, sizeof *p->free_jobs);
	if (!p->jobs || !p->queued || !p->finished || !p->free_jobs)
		return MLI_ENOMEM;
	/* Taken from the top: job 0 first. */
	for (size_t i = 0; i < p->n_jobs; i++)
		p->free_jobs[i] = p->n_jobs - 1 - i;
	p->n_free = p->n_jobs;
	if (o->threads == 1)
		return mli_decoder_new(&p->dec);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (!(p->threads = calloc((size_t)o->threads, sizeof *p->threads)))
		return MLI_ENOMEM;
	for (int i = 0; i < o->threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			return MLI_ESYS;
		p->n_threads++;
	}
	return 0;
}

/* A free job for the next record; the caller checks n_free first. */
static size_t pool_take(struct pool *p)
{
	return p->free_jobs[--p->n_free];
}

static void pool_release(struct pool *p, size_t slot)
{
	job_clear(&p->jobs[slot]);
	p->free_jobs[p->n_free++] = slot;
}

/* Queues a filled job; without workers, runs it here. */
static void pool_queue(struct pool *p, size_t slot)
{
	if (!p->n_threads) {
		job_run(&p->jobs[slot], p->opt, p->dec);
		job_done(p, slot);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->jobs[slot].state = JOB_QUEUED;
	p->queued[p->queued_tail++ % p->n_jobs] = slot;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Waits for this job to be done. */
static void pool_wait(struct pool *p, size_t slot)
{
	if (!p->n_threads)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->jobs[slot].state != JOB_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* Waits for the first job to finish of those not yet returned. */
static size_t pool_wait_any(struct pool *p)
{
	size_t slot;

	if (p->n_threads)
		pthread_mutex_lock(&p->mu);
	while (p->finished_head == p->finished_tail)
		pthread_cond_wait(&p->done, &p->mu);
	slot = p->finished[p->finished_head++ % p->n_jobs];
	if (p->n_threads)
		pthread_mutex_unlock(&p->mu);
	return slot;
}

static void pool_stop(struct pool *p)
{
	if (p->n_threads) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < p->n_threads; i++)
			pthread_join(p->threads[i], NULL);
	}
	for (size_t i = 0; p->jobs && i < p->n_jobs; i++) {
		job_clear(&p->jobs[i]);
		mli_record_copy_free(&p->jobs[i].in);
	}
	free(p->jobs);
	free(p->queued);
	free(p->finished);
	free(p->free_jobs);
	free(p->threads);
	mli_decoder_free(p->dec);
}

/* ---- output ---- */

struct run {
	const struct options *opt;
	struct mli_writer *w;
	FILE *failures;
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t bytes_before;     /* input bytes of the files already read */
	const struct mli_reader_stats *rstats;
	const char *input;         /* name of the input being read */
	struct pool *pool;
};

/* Text of a key for one line: control characters shown as '?'. */
static void put_key(FILE *out, const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i], out);
}

static void write_record(struct run *r, const struct job *j)
{
	int rc;

	if ((rc = mli_writer_begin(r->w, r->opt->quality ? MLI_TYPE_ENCODED : MLI_TYPE_IMAGE)) < 0
	    || (j->in.rec.key_len && (rc = mli_writer_key(r->w, j->in.rec.key, j->in.rec.key_len)) < 0)
	    || (rc = mli_writer_labels(r->w, j->in.rec.labels, j->in.rec.n_labels)) < 0)
		program_output_failed(prog, rc);
	if (r->opt->quality) {
		if ((rc = mli_writer_field(r->w, MLI_TAG_BLOB, j->jpeg, j->jpeg_len)) < 0
		    || (rc = mli_writer_field(r->w, MLI_TAG_MEDIA, "image/jpeg", 10)) < 0
		    || (j->source
			&& (rc = mli_writer_field(r->w, MLI_TAG_SOURCE, j->source->data, j->source->size)) < 0))
			program_output_failed(prog, rc);
	} else {
		uint32_t dims[3] = { j->img.height, j->img.width, j->img.channels };
		void *data;
		if ((rc = mli_writer_tensor_reserve(r->w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, &data)) < 0)
			program_output_failed(prog, rc);
		memcpy(data, j->img.pixels, (size_t)dims[0] * dims[1] * dims[2]);
	}
	if ((rc = mli_writer_end(r->w)) < 0)
		program_output_failed(prog, rc);
}

/* Writes a done job's record, or counts, logs and reports its skip.
 * Returns -1 when --strict ends the run. */
static int emit(struct run *r, const struct job *j)
{
	const char *reason, *detail;

	r->tally.in++;
	if (!j->skip && j->rc == 0) {
		write_record(r, j);
		r->tally.out++;
		return 0;
	}
	reason = j->skip ? j->skip : mli_fault_name(j->fault.reason);
	detail = j->skip ? "not an ENCODED record" : j->fault.detail;
	mli_tally_skip(&r->tally, reason, 1);
	if (r->failures) {
		put_key(r->failures, j->in.rec.key, j->in.rec.key_len);
		fprintf(r->failures, "\t%s\t%s\n", reason, detail);
	}
	if (r->opt->progress_mode != MLI_PROGRESS_OFF || r->opt->strict) {
		mli_progress_end(&r->progress);
		fprintf(stderr, "%s: %s: ", prog, r->input);
		put_key(stderr, j->in.rec.key, j->in.rec.key_len);
		fprintf(stderr, ": %s: %s%s\n", reason, detail, r->opt->strict ? "" : " (skipped)");
	}
	return r->opt->strict ? -1 : 0;
}

/* Runs the records of one input through the pool. Returns 0, or -1 after
 * reporting a fault of the input or a --strict stop. */
static int decode_input(void *ctx, const char *name, int fd)
{
	struct run *r = ctx;
	struct pool *p = r->pool;
	struct mli_reader *rd = mli_reader_open(fd, NULL);
	/* Jobs in input order, and how many were read and written. */
	size_t *order = malloc(sizeof *order * p->n_jobs);
	uint64_t seq_in = 0, seq_out = 0;
	struct mli_record rec;
	int rc = 1, failed = 0;

	if (!rd || !order) {
		fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
		exit(PROGRAM_EXIT_FAILURE);
	}
	r->input = name;
	r->rstats = mli_reader_stats(rd);
	/* Records written go out before a wait for more input, so that a slow
	 * producer upstream does not leave finished work unseen downstream. */
	mli_reader_on_wait(rd, mli_writer_flush_hook, r->w);
	for (;;) {
		/* Keep every job busy while there is input; with jobs in hand,
		 * read only what has arrived, and write those out first ... */
		while (rc > 0 && !failed && p->n_free > 0
		       && (seq_out == seq_in || mli_reader_ready(rd))) {
			if ((rc = mli_reader_next(rd, &rec)) <= 0)
				break;
			size_t slot = pool_take(p);
			if (job_fill(&p->jobs[slot], &rec) < 0) {
				fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
				exit(PROGRAM_EXIT_FAILURE);
			}
			order[seq_in++ % p->n_jobs] = slot;
			pool_queue(p, slot);
		}
		if (seq_out == seq_in)
			break;
		/* ... and write out the oldest job (or with --unordered the
		 * first finished) when it is done. */
		size_t slot = order[seq_out % p->n_jobs];
		if (p->unordered)
			slot = pool_wait_any(p);
		else
			pool_wait(p, slot);
		if (!failed && emit(r, &p->jobs[slot]) < 0)
			failed = 1;
		pool_release(p, slot);
		seq_out++;
		if (ferror(stdout))
			program_output_failed(prog, MLI_ESYS);
		mli_progress_update(&r->progress, r->tally.in, r->bytes_before + r->rstats->offset,
				    mli_tally_skipped(&r->tally));
	}
	free(order);
	r->bytes_before += r->rstats->offset;
	if (rc < 0) {
		mli_progress_end(&r->progress);
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_reader_message(rd));
		failed = 1;
	}
	mli_reader_free(rd);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct mli_writer_options wo;
	struct options o;
	struct pool pool;
	struct run r;
	int failed, rc;

	program_init();
	/* Every image allocates and frees buffers of megabytes (the page
	 * faults were a tenth of the run time on camera photos). */
	program_keep_heap((size_t)256 << 20, (size_t)512 << 20);
	parse_options(argc, argv, &o);
	program_refuse_terminal(prog);
	memset(&r, 0, sizeof r);
	r.opt = &o;
	if (o.failures && !(r.failures = fopen(o.failures, "a"))) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.failures, strerror(errno));
		return PROGRAM_EXIT_FAILURE;
	}
	wo.level = o.level;
	if (!(r.w = mli_writer_open(STDOUT_FILENO, &wo))) {
		fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	if ((rc = pool_start(&pool, &o)) < 0) {
		fprintf(stderr, "%s: cannot start threads: %s\n", prog, mli_strerror(rc));
		return PROGRAM_EXIT_FAILURE;
	}
	mli_progress_init(&r.progress, stderr, prog, "records",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO), program_input_size(o.files, o.n_files));

	r.pool = &pool;
	failed = program_each_input(prog, o.files, o.n_files, &r.progress, decode_input, &r) < 0;
	pool_stop(&pool);
	mli_progress_end(&r.progress);

	/* After a fault the output keeps its whole frames but no end frame,
	 * so that a consumer sees it as truncated. */
	rc = failed ? mli_writer_flush(r.w) : mli_writer_finish(r.w);
	if (rc < 0)
		program_output_failed(prog, rc);
	mli_writer_free(r.w);
	if (r.failures && (ferror(r.failures) | fclose(r.failures))) {
		fprintf(stderr, "%s: %s: write failed\n", prog, o.failures);
		failed = 1;
	}
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (r.progress.enabled || mli_tally_skipped(&r.tally)))
		mli_tally_print(&r.tally, stderr, prog, mli_now() - r.progress.t0);
	return failed ? PROGRAM_EXIT_FAILURE : 0;
}

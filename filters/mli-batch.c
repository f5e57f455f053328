/* mli-batch: image records in, batch records out.
 *
 * Reads IMAGE records from each FILE (or stdin), passes them through a
 * seeded shuffle buffer (libcore/shuffle.h) when asked, and gathers them
 * into BATCH records of --size images (libcore/batch.h): the pixels as
 * uint8 or float32 [N, C, H, W], the dense label matrix [N, classes], the
 * keys, the sparse labels and, for views of one image, their indices.
 * Every image must have the geometry of the first. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "mli.h"
#include "program.h"
#include "shuffle.h"

static const char *const prog = "mli-batch";

#define SIZE_DEFAULT 64
#define SHUFFLE_MAX (1L << 24)

struct options {
	struct mli_batch_options bopt;
	long shuffle;             /* buffer size; 0: input order */
	uint64_t seed, epoch;
	int drop_last;
	const char *dict;
	int level;
	int progress_mode;
	char **files;
	int n_files;
};

/* One image on its way through the shuffle buffer: copies of what the
 * batch needs, in one allocation. */
struct item {
	uint32_t dims[3];         /* [height, width, channels] */
	uint32_t view;
	size_t key_len, n_labels;
	struct mli_label *labels; /* [n_labels] */
	char *key;                /* key_len bytes */
	uint8_t *pixels;          /* [height, width, channels] */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-fpq] [-n N] [-s K] [--seed S] [--epoch E] [--drop-last]\n"
		"       [-c CLASSES | -d FILE] [-t T] [-L LEVEL] [FILE ...]\n"
		"Gather image records into batch records (stdin when no FILE or FILE is -).\n"
		"\n"
		"  -n, --size N          images per batch (default %d)\n"
		"  -s, --shuffle K       shuffle through a buffer of K images (default 0: none)\n"
		"      --seed S          seed of the shuffle (default 0)\n"
		"      --epoch E         epoch, mixed into the seed (default 0)\n"
		"      --drop-last       leave out a last batch of fewer than N images\n"
		"  -c, --classes C       write the dense label matrix with C columns\n"
		"  -d, --dict FILE       the same, C counted from a class dictionary\n"
		"  -t, --threshold T     binarise confidences: 1 when at least T, else 0\n"
		"  -f, --float           pixels as float32 in [-1, 1] (default: uint8)\n"
		"  -L, --level LEVEL     compress the output frames at zstd LEVEL (default 0: none)\n"
		"  -p, --progress        show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet           no progress and no summary\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n", prog, SIZE_DEFAULT);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
	uint64_t v;

	if (mli_parse_u64(s, UINT64_MAX, &v) < 0)
		program_usage_error(prog, "%s: not a whole number: '%s'", opt, s);
	return v;
}

/* The class count of a dictionary file. */
static uint32_t dict_classes(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint32_t classes;
	char *text;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	if (!(text = malloc((size_t)sb.st_size + 1))
	    || mli_read_full(fd, text, (size_t)sb.st_size) != sb.st_size) {
		fprintf(stderr, "%s: %s: cannot read\n", prog, path);
		exit(PROGRAM_EXIT_FAILURE);
	}
	close(fd);
	if (mli_dictionary_classes(text, (size_t)sb.st_size, &classes) < 0) {
		fprintf(stderr, "%s: %s: no line begins with a class index\n", prog, path);
		exit(PROGRAM_EXIT_FAILURE);
	}
	free(text);
	return classes;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_SEED = 256, OPT_EPOCH, OPT_DROP_LAST };
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 'n' },
		{ "shuffle", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "epoch", required_argument, NULL, OPT_EPOCH },
		{ "drop-last", no_argument, NULL, OPT_DROP_LAST },
		{ "classes", required_argument, NULL, 'c' },
		{ "dict", required_argument, NULL, 'd' },
		{ "threshold", required_argument, NULL, 't' },
		{ "float", no_argument, NULL, 'f' },
		{ "level", required_argument, NULL, 'L' },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	double d;
	long v;
	int c;

	memset(o, 0, sizeof *o);
	o->bopt.size = SIZE_DEFAULT;
	o->bopt.dtype = MLI_DTYPE_U8;
	/* Pixels gain little from zstd and cost its time: raw by default. */
	o->level = -1;
	while ((c = getopt_long(argc, argv, "n:s:c:d:t:fL:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (mli_parse_long(optarg, 1, 1 << 20, &v) < 0)
				program_usage_error(prog, "--size: not a count from 1 to 1048576: '%s'", optarg);
			o->bopt.size = (uint32_t)v;
			break;
		case 's':
			if (mli_parse_long(optarg, 0, SHUFFLE_MAX, &v) < 0)
				program_usage_error(prog, "--shuffle: not a count from 0 to %ld: '%s'",
						    SHUFFLE_MAX, optarg);
			o->shuffle = v;
			break;
		case OPT_SEED: o->seed = parse_u64("--seed", optarg); break;
		case OPT_EPOCH: o->epoch = parse_u64("--epoch", optarg); break;
		case OPT_DROP_LAST: o->drop_last = 1; break;
		case 'c':
			if (mli_parse_long(optarg, 1, 1 << 24, &v) < 0)
				program_usage_error(prog, "--classes: not a count from 1 to 16777216: '%s'", optarg);
			o->bopt.classes = (uint32_t)v;
			break;
		case 'd': o->dict = optarg; break;
		case 't':
			if (mli_parse_double(optarg, 0, 1, &d) < 0)
				program_usage_error(prog, "--threshold: not a number from 0 to 1: '%s'", optarg);
			o->bopt.binarise = 1;
			o->bopt.threshold = (float)d;
			break;
		case 'f': o->bopt.dtype = MLI_DTYPE_F32; break;
		case 'L':
			if (mli_parse_long(optarg, 0, 19, &v) < 0)
				program_usage_error(prog, "--level: not a level from 0 to 19: '%s'", optarg);
			o->level = v ? (int)v : -1;
			break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (o->dict && o->bopt.classes)
		program_usage_error(prog, "--classes and --dict exclude each other");
	if (o->bopt.binarise && !o->dict && !o->bopt.classes)
		program_usage_error(prog, "--threshold needs --classes or --dict");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

/* Copies a record's key, labels, view and pixels out of the reader's
 * buffer. NULL when out of memory. */
static struct item *item_new(const struct mli_record *rec, const struct mli_tensor *px)
{
	const struct mli_field *view = mli_record_field(rec, MLI_TAG_VIEW);
	size_t lsize = rec->n_labels * sizeof(struct mli_label);
	struct item *it = malloc(sizeof *it + lsize + rec->key_len + px->count);

	if (!it)
		return NULL;
	memcpy(it->dims, px->dims, sizeof it->dims);
	it->view = MLI_VIEW_NONE;
	if (view && view->size == 4)
		memcpy(&it->view, view->data, 4);
	it->key_len = rec->key_len;
	it->n_labels = rec->n_labels;
	it->labels = (struct mli_label *)(it + 1);
	it->key = (char *)it->labels + lsize;
	it->pixels = (uint8_t *)it->key + rec->key_len;
	if (lsize)
		memcpy(it->labels, rec->labels, lsize);
	memcpy(it->key, rec->key, rec->key_len);
	memcpy(it->pixels, px->data, px->count);
	return it;
}

struct run {
	const struct options *opt;
	struct mli_writer *w;
	struct mli_batch *batch;
	struct mli_shuffle *shuffle;
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t batches;
	uint64_t bytes_before;
	const char *input;
};

static void put_key(FILE *out, const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i], out);
}

static void write_batch(struct run *r)
{
	char key[32];
	int rc, n = snprintf(key, sizeof key, "batch-%06" PRIu64, r->batches++);

	r->tally.out += mli_batch_count(r->batch);
	if ((rc = mli_batch_write(r->batch, r->w, key, (size_t)n)) < 0)
		program_output_failed(prog, rc);
}

/* Adds an image to the batch and writes the batch when it is full.
 * Returns -1 after reporting an image that cannot join. */
static int add(struct run *r, struct item *it)
{
	const uint32_t *shape;
	uint32_t bad = 0;
	int rc = mli_batch_add(r->batch, it->key, it->key_len, it->labels, it->n_labels, it->view,
			       it->pixels, it->dims, &bad);

	if (rc < 0) {
		mli_progress_end(&r->progress);
		fprintf(stderr, "%s: %s: ", prog, r->input);
		put_key(stderr, it->key, it->key_len);
		shape = mli_batch_shape(r->batch);
		if (rc == MLI_EINVAL && shape)
			fprintf(stderr, ": image of %" PRIu32 "x%" PRIu32 "x%" PRIu32
				" (HxWxC) in a stream of %" PRIu32 "x%" PRIu32 "x%" PRIu32 "\n",
				it->dims[0], it->dims[1], it->dims[2], shape[0], shape[1], shape[2]);
		else if (rc == MLI_ERANGE)
			fprintf(stderr, ": class %" PRIu32 " is beyond the %" PRIu32 " classes\n", bad,
				r->opt->bopt.classes);
		else
			fprintf(stderr, ": %s\n", mli_strerror(rc));
		free(it);
		return -1;
	}
	free(it);
	if ((uint32_t)rc == r->opt->bopt.size)
		write_batch(r);
	return 0;
}

/* Reads one input into the shuffle buffer (or straight into batches).
 * Returns 0, or -1 after reporting a fault. */
static int batch_input(void *ctx, const char *name, int fd)
{
	struct run *r = ctx;
	struct mli_reader *rd = mli_reader_open(fd, NULL);
	const struct mli_reader_stats *rs;
	struct mli_record rec;
	struct mli_tensor px;
	const char *why;
	int rc, failed = 0;

	if (!rd) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_strerror(MLI_ENOMEM));
		exit(PROGRAM_EXIT_FAILURE);
	}
	/* Batches done go out before a wait for more input. */
	mli_reader_on_wait(rd, mli_writer_flush_hook, r->w);
	r->input = name;
	rs = mli_reader_stats(rd);
	while (!failed && (rc = mli_reader_next(rd, &rec)) > 0) {
		struct item *it, *out;
		r->tally.in++;
		if (rec.type != MLI_TYPE_IMAGE || mli_record_tensor(&rec, MLI_TAG_PIXELS, &px, &why) < 0) {
			mli_tally_skip(&r->tally, "not-image", 1);
			continue;
		}
		if (!(it = item_new(&rec, &px))) {
			mli_progress_end(&r->progress);
			fprintf(stderr, "%s: %s: ", prog, name);
			put_key(stderr, rec.key, rec.key_len);
			fprintf(stderr, ": %s\n", mli_strerror(MLI_ENOMEM));
			failed = 1;
			break;
		}
		if (!r->shuffle)
			failed = add(r, it) < 0;
		else if (mli_shuffle_push(r->shuffle, it, (void **)&out))
			failed = add(r, out) < 0;
		mli_progress_update(&r->progress, r->tally.in, r->bytes_before + rs->offset,
				    mli_tally_skipped(&r->tally));
	}
	r->bytes_before += rs->offset;
	if (!failed && rc < 0) {
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
	struct run r;
	struct item *it;
	int failed, rc;

	program_init();
	/* Each image is a copy of a few hundred kilobytes. */
	program_keep_heap((size_t)256 << 20, (size_t)512 << 20);
	parse_options(argc, argv, &o);
	if (o.dict)
		o.bopt.classes = dict_classes(o.dict);
	program_refuse_terminal(prog);
	memset(&r, 0, sizeof r);
	r.opt = &o;
	wo.level = o.level;
	if (!(r.w = mli_writer_open(STDOUT_FILENO, &wo))) {
		fprintf(stderr, "%s: stdout: %s\n", prog, mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	if (mli_batch_create(&r.batch, &o.bopt) < 0) {
		fprintf(stderr, "%s: a batch of %" PRIu32 " images with %" PRIu32 " classes: %s\n", prog,
			o.bopt.size, o.bopt.classes, mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	if (o.shuffle && mli_shuffle_create(&r.shuffle, (size_t)o.shuffle, o.seed, o.epoch) < 0) {
		fprintf(stderr, "%s: --shuffle %" PRIu64 ": %s\n", prog, (uint64_t)o.shuffle,
			mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	mli_progress_init(&r.progress, stderr, prog, "records",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO),
			  program_input_size(o.files, o.n_files));

	failed = program_each_input(prog, o.files, o.n_files, &r.progress, batch_input, &r) < 0;
	/* What the shuffle buffer still holds goes out in random order. */
	while (r.shuffle && mli_shuffle_pop(r.shuffle, (void **)&it)) {
		if (failed)
			free(it);
		else if (add(&r, it) < 0)
			failed = 1;
	}
	if (!failed && mli_batch_count(r.batch)) {
		if (o.drop_last)
			mli_tally_skip(&r.tally, "drop-last", mli_batch_count(r.batch));
		else
			write_batch(&r);
	}
	mli_progress_end(&r.progress);

	/* After a fault the output keeps its whole frames but no end frame,
	 * so that a consumer sees it as truncated. */
	rc = failed ? mli_writer_flush(r.w) : mli_writer_finish(r.w);
	if (rc < 0)
		program_output_failed(prog, rc);
	mli_writer_free(r.w);
	mli_batch_free(r.batch);
	mli_shuffle_free(r.shuffle);
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (r.progress.enabled || mli_tally_skipped(&r.tally)))
		mli_tally_print(&r.tally, stderr, prog, mli_now() - r.progress.t0);
	return failed ? PROGRAM_EXIT_FAILURE : 0;
}

/* mli-export: write an mli stream as TFRecord shards in the original
 * release's schema, for TensorFlow users.
 *
 * Each ENCODED record becomes one tf.Example: width and height (the WIDTH
 * and HEIGHT fields, else the JPEG's own header, else 0), name (the key),
 * label (one little-endian float32 per class, the record's sparse labels
 * spread out, zero elsewhere) and image (the BLOB), in that order, framed
 * with TFRecord's masked CRC32C. Other records carry no encoded image and
 * are skipped and counted. mli-import reads the result back into the
 * records it came from, byte for byte, when they hold what mli-import
 * writes (see the man page). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dictionary.h"
#include "example.h"
#include "jpeg.h"
#include "mli.h"
#include "program.h"
#include "tfrecord.h"

static const char *const prog = "mli-export";

#define CLASSES_DEFAULT 11166   /* the release's dictionary */

struct options {
	long classes;           /* 0: from --dict, else CLASSES_DEFAULT */
	const char *dict_path;
	const char *output;     /* shard name prefix, or NULL for stdout */
	long per_shard;         /* records per shard; 0: all in one */
	int skip_bad;
	int progress_mode;
	char **files;
	int n_files;
};

struct export {
	const struct options *opt;
	size_t classes;
	float *dense;          /* [classes] */
	uint8_t *out;          /* the serialized example */
	size_t out_cap;
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t bytes_before;
	int fd;                /* where records go: stdout or the open shard */
	int shard_open;        /* a shard is open on fd */
	long next_shard;       /* number of the next shard to open */
	long in_shard;         /* records written to the open one */
	char shard_path[PATH_MAX];
	char shard_tmp[PATH_MAX + 8];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-pqs] [--tfrecord] [-c CLASSES] [-d DICT] [-o PREFIX [-n N]] [FILE ...]\n"
		"Write mli streams (stdin when no FILE or FILE is -) as TFRecord shards of\n"
		"tf.Example in the original release's schema, on stdout or in files.\n"
		"\n"
		"  -t, --tfrecord       TFRecord of tf.Example (the only format, and the default)\n"
		"  -c, --classes N      length of the dense label vector (default 11166)\n"
		"  -d, --dict FILE      take the number of classes from this dictionary\n"
		"  -o, --output PREFIX  write shards PREFIX-00000.tfrecords, ... instead of stdout\n"
		"  -n, --records-per-shard N  start a new shard every N records (with --output)\n"
		"  -s, --skip-bad       skip bad frames in the input, resynchronise and count them\n"
		"  -p, --progress       show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet          no progress and no summary\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n", prog);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "tfrecord", no_argument, NULL, 't' },
		{ "classes", required_argument, NULL, 'c' },
		{ "dict", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "records-per-shard", required_argument, NULL, 'n' },
		{ "skip-bad", no_argument, NULL, 's' },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof *o);
	while ((c = getopt_long(argc, argv, "tc:d:o:n:spqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': break;
		case 'c':
			if (mli_parse_long(optarg, 1, 1 << 24, &o->classes) < 0)
				program_usage_error(prog, "--classes: not a count from 1 to 16777216: '%s'", optarg);
			break;
		case 'd': o->dict_path = optarg; break;
		case 'o': o->output = optarg; break;
		case 'n':
			if (mli_parse_long(optarg, 1, LONG_MAX, &o->per_shard) < 0)
				program_usage_error(prog, "--records-per-shard: not a count from 1: '%s'", optarg);
			break;
		case 's': o->skip_bad = 1; break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (o->per_shard && !o->output)
		program_usage_error(prog, "--records-per-shard needs --output");
	if (o->classes && o->dict_path)
		program_usage_error(prog, "give --classes or --dict, not both");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

static void fail(struct export *e, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(struct export *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	program_vfail(prog, &e->progress, NULL, fmt, ap);
}

static void skip(struct export *e, const char *reason, const char *name, uint64_t offset, const char *what)
{
	mli_tally_skip(&e->tally, reason, 1);
	if (e->opt->progress_mode == MLI_PROGRESS_OFF)
		return;
	mli_progress_end(&e->progress);
	fprintf(stderr, "%s: %s: offset %llu: %s (skipped)\n", prog, name, (unsigned long long)offset, what);
}

/* The width and height of a record's source: its WIDTH and HEIGHT fields,
 * else the JPEG header, else 0 and 0. */
static void source_size(const struct mli_record *rec, const struct mli_field *blob, int64_t *w, int64_t *h)
{
	const struct mli_field *fw = mli_record_field(rec, MLI_TAG_WIDTH);
	const struct mli_field *fh = mli_record_field(rec, MLI_TAG_HEIGHT);
	struct mli_jpeg *j;
	struct mli_jpeg_info info;
	struct mli_fault f;

	*w = *h = 0;
	if (fw && fh && fw->size == 4 && fh->size == 4) {
		*w = mli_load32(fw->data);
		*h = mli_load32(fh->data);
	} else if (mli_jpeg_open(&j, blob->data, blob->size, 0, 1, &info, &f) == 0) {
		*w = info.width;
		*h = info.height;
		mli_jpeg_close(j);
	}
}

/* Closes the open shard and gives it its name: a shard is under its name
 * only once it is whole. */
static void shard_close(struct export *e)
{
	if (!e->shard_open)
		return;
	if (fsync(e->fd) < 0 || close(e->fd) < 0)
		fail(e, "%s: %s", e->shard_tmp, strerror(errno));
	if (rename(e->shard_tmp, e->shard_path) < 0)
		fail(e, "%s: %s", e->shard_path, strerror(errno));
	e->fd = -1;
	e->shard_open = 0;
}

static void shard_begin(struct export *e)
{
	if ((size_t)snprintf(e->shard_path, sizeof e->shard_path, "%s-%05ld.tfrecords", e->opt->output,
			     e->next_shard)
	    >= sizeof e->shard_path)
		fail(e, "%s: name too long", e->opt->output);
	snprintf(e->shard_tmp, sizeof e->shard_tmp, "%s.tmp", e->shard_path);
	if ((e->fd = open(e->shard_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		fail(e, "%s: %s", e->shard_tmp, strerror(errno));
	e->shard_open = 1;
	e->next_shard++;
	e->in_shard = 0;
}

static void export_record(struct export *e, const struct mli_record *rec, const char *name, uint64_t offset)
{
	const struct mli_field *blob = mli_record_field(rec, MLI_TAG_BLOB);
	struct mli_example ex;
	size_t size;
	int rc;

	if (rec->type != MLI_TYPE_ENCODED || !blob) {
		skip(e, "not-encoded", name, offset, "not an ENCODED record");
		return;
	}
	for (size_t i = 0; i < rec->n_labels; i++) {
		if (rec->labels[i].cls >= e->classes) {
			skip(e, "class-out-of-range", name, offset, "a class beyond --classes");
			return;
		}
	}
	memset(e->dense, 0, e->classes * sizeof *e->dense);
	for (size_t i = 0; i < rec->n_labels; i++)
		e->dense[rec->labels[i].cls] = rec->labels[i].conf;
	/* The label bytes are little-endian float32: store them so on any host. */
	for (size_t c = 0; c < e->classes; c++) {
		uint32_t bits;
		memcpy(&bits, &e->dense[c], 4);
		mli_store32((uint8_t *)&e->dense[c], bits);
	}
	memset(&ex, 0, sizeof ex);
	source_size(rec, blob, &ex.width, &ex.height);
	ex.name = (const uint8_t *)rec->key;
	ex.name_len = rec->key_len;
	ex.label = (const uint8_t *)e->dense;
	ex.label_len = e->classes * 4;
	ex.image = blob->data;
	ex.image_len = blob->size;
	size = mli_example_size(&ex);
	if (size > e->out_cap) {
		uint8_t *b = realloc(e->out, size);
		if (!b)
			fail(e, "%s", mli_strerror(MLI_ENOMEM));
		e->out = b;
		e->out_cap = size;
	}
	mli_example_write(&ex, e->out);
	if (e->opt->output) {
		if (e->shard_open && e->opt->per_shard && e->in_shard == e->opt->per_shard)
			shard_close(e);
		if (!e->shard_open)
			shard_begin(e);
		if ((rc = mli_tfrecord_write(e->fd, e->out, size)) < 0)
			fail(e, "%s: %s", e->shard_tmp, rc == MLI_ESYS ? strerror(errno) : mli_strerror(rc));
		e->in_shard++;
	} else if ((rc = mli_tfrecord_write(STDOUT_FILENO, e->out, size)) < 0) {
		mli_progress_end(&e->progress);
		program_output_failed(prog, rc);
	}
	e->tally.out++;
}

/* Exports one input; returns 0, or -1 after reporting a fault. */
static int export_input(void *ctx, const char *name, int fd)
{
	struct export *e = ctx;
	struct mli_reader_options ro = { 0, e->opt->skip_bad };
	struct mli_reader *r = mli_reader_open(fd, &ro);
	const struct mli_reader_stats *st;
	struct mli_record rec;
	uint64_t skipped = 0;
	int rc;

	if (!r)
		fail(e, "%s", mli_strerror(MLI_ENOMEM));
	st = mli_reader_stats(r);
	while ((rc = mli_reader_next(r, &rec)) > 0) {
		if (st->frames_skipped != skipped) {
			mli_tally_skip(&e->tally, "bad-frame", st->frames_skipped - skipped);
			skipped = st->frames_skipped;
		}
		e->tally.in++;
		export_record(e, &rec, name, mli_reader_record_offset(r));
		mli_progress_update(&e->progress, e->tally.in, e->bytes_before + st->offset,
				    mli_tally_skipped(&e->tally));
	}
	e->bytes_before += st->offset;
	if (rc < 0) {
		mli_progress_end(&e->progress);
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_reader_message(r));
	}
	mli_reader_free(r);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct export e;
	int failed;

	program_init();
	parse_options(argc, argv, &o);
	memset(&e, 0, sizeof e);
	e.opt = &o;
	e.classes = o.classes ? (size_t)o.classes : CLASSES_DEFAULT;
	e.fd = -1;
	if (o.dict_path) {
		struct mli_dictionary *d;
		const char *why;
		size_t line;
		int rc = mli_dictionary_read(o.dict_path, &d, &line, &why);
		if (rc < 0 && rc == MLI_EINVAL && line)
			fail(&e, "%s: line %zu: %s", o.dict_path, line, why);
		if (rc < 0)
			fail(&e, "%s: %s", o.dict_path, rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
		e.classes = mli_dictionary_size(d);
		mli_dictionary_free(d);
	}
	if (!(e.dense = malloc(e.classes * sizeof *e.dense)))
		fail(&e, "%s", mli_strerror(MLI_ENOMEM));
	if (!o.output && isatty(STDOUT_FILENO))
		program_usage_error(prog, "stdout is a terminal; redirect the TFRecord output");
	mli_progress_init(&e.progress, stderr, prog, "records", mli_progress_wanted(o.progress_mode, STDERR_FILENO),
			  program_input_size(o.files, o.n_files));
	failed = program_each_input(prog, o.files, o.n_files, &e.progress, export_input, &e) < 0;
	mli_progress_end(&e.progress);
	/* After a fault the open shard keeps its temporary name: its records
	 * are whole, but it does not hold all it should. */
	if (!failed)
		shard_close(&e);
	else if (e.shard_open)
		fprintf(stderr, "%s: %s left incomplete\n", prog, e.shard_tmp);
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (e.progress.enabled || mli_tally_skipped(&e.tally)))
		mli_tally_print(&e.tally, stderr, prog, mli_now() - e.progress.t0);
	free(e.dense);
	free(e.out);
	return failed ? PROGRAM_EXIT_FAILURE : 0;
}

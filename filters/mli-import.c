/* mli-import: bring the original release's data into an mli stream.
 *
 * Reads TFRecord shards of tf.Example (width, height, image, dense float32
 * label, name) into ENCODED records with sparse labels, checking
 * TFRecord's masked CRC32C on every length and every record; annotation
 * lists ("name<TAB>class:conf ...") into ANNOTATION records, or with
 * --root into ENCODED records of the named files; and directories of
 * images into ENCODED records keyed by relative path. Labels can be
 * augmented with their ancestors (--propagate) and renumbered or subset
 * (--map) on the way. A damaged shard ends the run (exit 1) with its byte
 * offset; the output keeps its whole frames but no end frame. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotation.h"
#include "dictionary.h"
#include "example.h"
#include "mli.h"
#include "program.h"
#include "sniff.h"
#include "tfrecord.h"

static const char *const prog = "mli-import";

enum format { FORMAT_AUTO, FORMAT_TFRECORD, FORMAT_LIST, FORMAT_DIR };

struct options {
	enum format format;
	const char *root;
	const char *dict_path;
	const char *map_path;
	int propagate;
	int level;
	uint32_t limit;
	int progress_mode;
	char **inputs;
	int n_inputs;
};

/* Labels of the record being built, grown as needed. */
struct labels {
	struct mli_label *v;
	size_t n, cap;
};

struct import {
	const struct options *opt;
	struct mli_dictionary *dict;
	struct mli_classmap *map;
	struct mli_writer *w;
	struct mli_tally tally;
	struct mli_progress progress;
	struct labels in, out;
	uint8_t *file;               /* the image file being read (--root, directories) */
	size_t file_cap;
	uint64_t bytes;              /* input bytes read so far */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-pq] [-f FORMAT] [-r DIR] [-d DICT] [-P] [-m MAP] [-L LEVEL]\n"
		"                  [--limit SIZE] [INPUT ...]\n"
		"Import TFRecord shards, annotation lists or directories of images as an mli stream\n"
		"(stdin when no INPUT or INPUT is -).\n"
		"\n"
		"  -f, --format FORMAT  tfrecord, list or dir (default: guessed from each input)\n"
		"  -r, --root DIR       read the images a list names from DIR (ENCODED records)\n"
		"  -d, --dict FILE      the class dictionary and hierarchy\n"
		"  -P, --propagate      add every ancestor of each label (needs --dict)\n"
		"  -m, --map FILE       renumber or subset classes (OLD or OLD<TAB>NEW lines)\n"
		"  -L, --level LEVEL    compress frames at zstd LEVEL (1-19; default: store raw)\n"
		"      --limit SIZE     largest record or file accepted (default 256M)\n"
		"  -p, --progress       show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet          no progress and no summary\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n", prog);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_LIMIT = 256 };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "root", required_argument, NULL, 'r' },
		{ "dict", required_argument, NULL, 'd' },
		{ "propagate", no_argument, NULL, 'P' },
		{ "map", required_argument, NULL, 'm' },
		{ "level", required_argument, NULL, 'L' },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;
	long v;
	uint64_t size;

	memset(o, 0, sizeof *o);
	o->level = -1;
	o->limit = MLI_FRAME_LIMIT_DEFAULT;
	while ((c = getopt_long(argc, argv, "f:r:d:Pm:L:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "tfrecord") == 0)
				o->format = FORMAT_TFRECORD;
			else if (strcmp(optarg, "list") == 0)
				o->format = FORMAT_LIST;
			else if (strcmp(optarg, "dir") == 0)
				o->format = FORMAT_DIR;
			else
				program_usage_error(prog, "--format: not tfrecord, list or dir: '%s'", optarg);
			break;
		case 'r': o->root = optarg; break;
		case 'd': o->dict_path = optarg; break;
		case 'P': o->propagate = 1; break;
		case 'm': o->map_path = optarg; break;
		case 'L':
			if (mli_parse_long(optarg, 1, 19, &v) < 0)
				program_usage_error(prog, "--level: not a level from 1 to 19: '%s'", optarg);
			o->level = (int)v;
			break;
		case OPT_LIMIT:
			if (mli_parse_size(optarg, MLI_FRAME_LIMIT_MAX - 65536, &size) < 0 || size < 1024)
				program_usage_error(prog, "--limit: not a size from 1K to 4G-64K: '%s'", optarg);
			o->limit = (uint32_t)size;
			break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (o->propagate && !o->dict_path)
		program_usage_error(prog, "--propagate needs --dict");
	o->inputs = argv + optind;
	o->n_inputs = argc - optind;
}

static void die(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Reports a fatal fault and ends: the output keeps its whole frames but no
 * end frame, so that a consumer sees it as truncated. */
static void die(struct import *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	program_vfail(prog, &im->progress, im->w, fmt, ap);
}

/* A warning about one skipped record, shown unless --quiet. */
static void warn_skip(struct import *im, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn_skip(struct import *im, const char *reason, const char *fmt, ...)
{
	va_list ap;

	mli_tally_skip(&im->tally, reason, 1);
	if (im->opt->progress_mode == MLI_PROGRESS_OFF)
		return;
	mli_progress_end(&im->progress);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int labels_reserve(struct labels *l, size_t n)
{
	if (n <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 1024;
	while (cap < n)
		cap *= 2;
	struct mli_label *v = realloc(l->v, cap * sizeof *v);
	if (!v)
		return MLI_ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

/* Applies --propagate and --map to im->in, leaving the result in im->out.
 * Returns 0, or MLI_ERANGE with *bad set to a class the dictionary does
 * not know. */
static int transform_labels(struct import *im, uint32_t *bad)
{
	struct labels *in = &im->in, *out = &im->out;
	int rc;

	if (im->opt->propagate) {
		for (size_t i = 0; i < in->n; i++) {
			if (in->v[i].cls >= mli_dictionary_size(im->dict)) {
				*bad = in->v[i].cls;
				return MLI_ERANGE;
			}
		}
		size_t cap = in->n + mli_dictionary_size(im->dict);
		if (labels_reserve(out, cap) < 0)
			die(im, "%s", mli_strerror(MLI_ENOMEM));
		if ((rc = mli_dictionary_propagate(im->dict, in->v, in->n, out->v, cap)) < 0)
			return rc;
		out->n = (size_t)rc;
	} else {
		if (labels_reserve(out, in->n) < 0)
			die(im, "%s", mli_strerror(MLI_ENOMEM));
		if (in->n)
			memcpy(out->v, in->v, in->n * sizeof *in->v);
		out->n = in->n;
	}
	if (im->map)
		out->n = mli_classmap_apply(im->map, out->v, out->n);
	return 0;
}

static void check_write(struct import *im, int rc)
{
	if (rc == MLI_EINVAL)
		return;
	if (rc < 0) {
		mli_progress_end(&im->progress);
		program_output_failed(prog, rc);
	}
}

/* Writes an ENCODED record (ANNOTATION when blob is NULL) with im->out's
 * labels. Width and height are written when not negative. */
static void write_record(struct import *im, const char *key, size_t key_len, const uint8_t *blob,
			 size_t blob_len, int64_t width, int64_t height)
{
	struct mli_writer *w = im->w;
	struct mli_sniff s = { MLI_SNIFF_EMPTY, NULL };
	int rc;

	if ((rc = mli_writer_begin(w, blob ? MLI_TYPE_ENCODED : MLI_TYPE_ANNOTATION)) < 0)
		check_write(im, rc);
	if ((rc = mli_writer_key(w, key, key_len)) < 0)
		check_write(im, rc);
	if ((rc = mli_writer_labels(w, im->out.v, im->out.n)) < 0)
		check_write(im, rc);
	if (blob) {
		if ((rc = mli_writer_field(w, MLI_TAG_BLOB, blob, blob_len)) < 0)
			check_write(im, rc);
		mli_sniff(blob, blob_len, &s);
		if (s.kind == MLI_SNIFF_IMAGE && s.media
		    && (rc = mli_writer_field(w, MLI_TAG_MEDIA, s.media, strlen(s.media))) < 0)
			check_write(im, rc);
		if (width >= 0 && width <= UINT32_MAX && height >= 0 && height <= UINT32_MAX) {
			uint8_t b[4];
			mli_store32(b, (uint32_t)width);
			if ((rc = mli_writer_field(w, MLI_TAG_WIDTH, b, 4)) < 0)
				check_write(im, rc);
			mli_store32(b, (uint32_t)height);
			if ((rc = mli_writer_field(w, MLI_TAG_HEIGHT, b, 4)) < 0)
				check_write(im, rc);
		}
	}
	if ((rc = mli_writer_end(w)) < 0)
		check_write(im, rc);
	im->tally.out++;
}

/* Whether a key can be written: 1 to 65535 bytes of UTF-8 without NUL. */
static int key_ok(const void *key, size_t len)
{
	return mli_text_valid(key, len, MLI_KEY_MAX);
}

/* --- TFRecord shards --- */

static void import_tfrecord(struct import *im, const char *name, int fd, const uint8_t *pre, size_t npre)
{
	struct mli_tfrecord_reader *r = mli_tfrecord_reader_open(fd, im->opt->limit, pre, npre);
	const uint8_t *data;
	size_t len;
	uint64_t index = 0, before = im->bytes;
	int rc;

	if (!r)
		die(im, "%s", mli_strerror(MLI_ENOMEM));
	/* Records done go out before a wait for more of the shard. */
	mli_tfrecord_reader_on_wait(r, mli_writer_flush_hook, im->w);
	while ((rc = mli_tfrecord_next(r, &data, &len)) > 0) {
		struct mli_example ex;
		const char *why;
		uint32_t bad_class = 0;
		char fallback[64];
		const char *key;
		size_t key_len;
		int bad = 0;

		im->tally.in++;
		index++;
		if (mli_example_parse(data, len, &ex, &why) < 0) {
			warn_skip(im, "bad-example", "%s: offset %llu: %s (skipped)", name,
				  (unsigned long long)mli_tfrecord_offset(r), why);
			continue;
		}
		if (!ex.image) {
			warn_skip(im, "no-image", "%s: offset %llu: no image feature (skipped)", name,
				  (unsigned long long)mli_tfrecord_offset(r));
			continue;
		}
		if (ex.name && key_ok(ex.name, ex.name_len)) {
			key = (const char *)ex.name;
			key_len = ex.name_len;
		} else {
			/* Without a usable name, the record's place names it. */
			key_len = (size_t)snprintf(fallback, sizeof fallback, "record-%llu",
						   (unsigned long long)(index - 1));
			key = fallback;
		}
		im->in.n = 0;
		if (labels_reserve(&im->in, ex.label_len / 4) < 0)
			die(im, "%s", mli_strerror(MLI_ENOMEM));
		for (size_t c = 0; c < ex.label_len / 4; c++) {
			uint32_t bits = mli_load32(ex.label + 4 * c);
			float v;
			memcpy(&v, &bits, sizeof v);
			if (v == 0)
				continue;
			if (!isfinite(v)) {
				bad = 1;
				break;
			}
			im->in.v[im->in.n].cls = (uint32_t)c;
			im->in.v[im->in.n].conf = v;
			im->in.n++;
		}
		if (bad) {
			warn_skip(im, "bad-label", "%s: offset %llu: a label that is not finite (skipped)", name,
				  (unsigned long long)mli_tfrecord_offset(r));
			continue;
		}
		if (transform_labels(im, &bad_class) < 0) {
			warn_skip(im, "unknown-class", "%s: offset %llu: class %u is not in the dictionary (skipped)",
				  name, (unsigned long long)mli_tfrecord_offset(r), bad_class);
			continue;
		}
		write_record(im, key, key_len, ex.image, ex.image_len, ex.width, ex.height);
		im->bytes = before + mli_tfrecord_consumed(r);
		mli_progress_update(&im->progress, im->tally.in, im->bytes, mli_tally_skipped(&im->tally));
	}
	if (rc < 0)
		die(im, "%s: %s", name, mli_tfrecord_message(r));
	im->bytes = before + mli_tfrecord_consumed(r);
	mli_tfrecord_reader_free(r);
}

/* --- image files (--root, directories) --- */

/* Reads the file at path into im->file. Returns its size, or -1 with
 * errno set (EFBIG past --limit). */
static ssize_t read_image(struct import *im, int dirfd, const char *path)
{
	struct stat sb;
	ssize_t got;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > im->opt->limit) {
		close(fd);
		errno = S_ISDIR(sb.st_mode) ? EISDIR : !S_ISREG(sb.st_mode) ? EINVAL : EFBIG;
		return -1;
	}
	if ((size_t)sb.st_size + 1 > im->file_cap) {
		uint8_t *b = realloc(im->file, (size_t)sb.st_size + 1);
		if (!b)
			die(im, "%s", mli_strerror(MLI_ENOMEM));
		im->file = b;
		im->file_cap = (size_t)sb.st_size + 1;
	}
	got = mli_read_full(fd, im->file, (size_t)sb.st_size);
	if (got >= 0 && got != sb.st_size) {
		errno = EIO;   /* the file shrank while being read */
		got = -1;
	}
	close(fd);
	return got;
}

/* --- annotation lists --- */

static void import_list(struct import *im, const char *name, int fd, const uint8_t *pre, size_t npre)
{
	/* Records done go out before a wait for more of the list. */
	struct mli_lines l = { .fd = fd, .buf = malloc(1 << 16), .cap = 1 << 16, .end = npre,
			       .on_wait = mli_writer_flush_hook, .on_wait_ctx = im->w };
	uint64_t lineno = 0;
	int rootfd = AT_FDCWD;
	char *line;
	size_t len;
	int rc;

	if (!l.buf)
		die(im, "%s", mli_strerror(MLI_ENOMEM));
	memcpy(l.buf, pre, npre);
	if (labels_reserve(&im->in, MLI_ANNOTATION_LABELS_MAX) < 0)
		die(im, "%s", mli_strerror(MLI_ENOMEM));
	if (im->opt->root && (rootfd = open(im->opt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(im, "%s: %s", im->opt->root, strerror(errno));
	while ((rc = mli_lines_next(&l, &line, &len)) > 0) {
		struct mli_annotation a;
		const char *why;
		uint32_t bad_class = 0;
		int prc;

		lineno++;
		im->bytes += len + 1;
		prc = mli_annotation_parse(line, len, im->in.v, im->in.cap, &a, &why);
		if (prc == 0)
			continue;
		im->tally.in++;
		if (prc < 0) {
			warn_skip(im, "bad-line", "%s: line %llu: %s (skipped)", name,
				  (unsigned long long)lineno, why);
			continue;
		}
		im->in.n = a.n_labels;
		if (transform_labels(im, &bad_class) < 0) {
			warn_skip(im, "unknown-class", "%s: line %llu: class %u is not in the dictionary (skipped)",
				  name, (unsigned long long)lineno, bad_class);
			continue;
		}
		if (im->opt->root) {
			char path[PATH_MAX];
			ssize_t n;
			if (a.key_len >= sizeof path) {
				warn_skip(im, "unreadable", "%s: line %llu: name too long (skipped)", name,
					  (unsigned long long)lineno);
				continue;
			}
			memcpy(path, a.key, a.key_len);
			path[a.key_len] = '\0';
			if ((n = read_image(im, rootfd, path)) < 0) {
				warn_skip(im, "unreadable", "%s/%s: %s (skipped)", im->opt->root, path,
					  strerror(errno));
				continue;
			}
			write_record(im, a.key, a.key_len, im->file, (size_t)n, -1, -1);
		} else {
			write_record(im, a.key, a.key_len, NULL, 0, -1, -1);
		}
		mli_progress_update(&im->progress, im->tally.in, im->bytes, mli_tally_skipped(&im->tally));
	}
	if (rc < 0)
		die(im, "%s: %s", name, strerror(errno));
	if (rootfd != AT_FDCWD)
		close(rootfd);
	free(l.buf);
}

/* --- directories of images --- */

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Imports every visible regular file under top/rel in name order,
 * recursively; keys are paths relative to top. */
static void import_dir(struct import *im, int topfd, const char *top, const char *rel)
{
	struct dirent **names;
	char path[PATH_MAX];
	int n, dirfd;

	dirfd = rel[0] ? openat(topfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dup(topfd);
	if (dirfd < 0 || (n = scandirat(dirfd, ".", &names, visible, by_name)) < 0)
		die(im, "%s/%s: %s", top, rel, strerror(errno));
	close(dirfd);
	for (int i = 0; i < n; i++) {
		struct stat sb;
		struct mli_sniff s;
		ssize_t len;

		if ((size_t)snprintf(path, sizeof path, "%s%s%s", rel, rel[0] ? "/" : "", names[i]->d_name)
		    >= sizeof path) {
			im->tally.in++;
			warn_skip(im, "unreadable", "%s/%s: path too long (skipped)", top, rel);
			free(names[i]);
			continue;
		}
		free(names[i]);
		if (fstatat(topfd, path, &sb, 0) < 0) {
			im->tally.in++;
			warn_skip(im, "unreadable", "%s/%s: %s (skipped)", top, path, strerror(errno));
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			import_dir(im, topfd, top, path);
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		im->tally.in++;
		if ((len = read_image(im, topfd, path)) < 0) {
			warn_skip(im, "unreadable", "%s/%s: %s (skipped)", top, path, strerror(errno));
			continue;
		}
		im->bytes += (uint64_t)len;
		mli_sniff(im->file, (size_t)len, &s);
		if (s.kind != MLI_SNIFF_IMAGE) {
			warn_skip(im, "not-an-image", "%s/%s: not an image (skipped)", top, path);
			continue;
		}
		if (!key_ok(path, strlen(path))) {
			warn_skip(im, "bad-key", "%s/%s: name not UTF-8 (skipped)", top, path);
			continue;
		}
		im->out.n = 0;
		write_record(im, path, strlen(path), im->file, (size_t)len, -1, -1);
		mli_progress_update(&im->progress, im->tally.in, im->bytes, mli_tally_skipped(&im->tally));
	}
	free(names);
}

/* Imports one named input (or stdin), guessing its format unless told:
 * a directory is a directory; a file whose first 12 bytes are a TFRecord
 * header with a matching CRC is a shard; anything else is a list. */
static void import_input(struct import *im, const char *arg)
{
	const struct options *o = im->opt;
	int is_stdin = strcmp(arg, "-") == 0;
	const char *name = is_stdin ? "stdin" : arg;
	uint8_t pre[MLI_TFRECORD_HEADER_SIZE];
	ssize_t npre = 0;
	struct stat sb;
	uint64_t len;
	int fd;

	if (!is_stdin && (o->format == FORMAT_DIR || (o->format == FORMAT_AUTO && stat(arg, &sb) == 0
									 && S_ISDIR(sb.st_mode)))) {
		if ((fd = open(arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			die(im, "%s: %s", name, strerror(errno));
		import_dir(im, fd, arg, "");
		close(fd);
		return;
	}
	if (o->format == FORMAT_DIR)
		program_usage_error(prog, "--format dir: stdin is not a directory");
	fd = is_stdin ? STDIN_FILENO : open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(im, "%s: %s", name, strerror(errno));
	if (o->format == FORMAT_AUTO && (npre = mli_read_full(fd, pre, sizeof pre)) < 0)
		die(im, "%s: %s", name, strerror(errno));
	if (o->format == FORMAT_TFRECORD || (o->format == FORMAT_AUTO && npre == (ssize_t)sizeof pre
					     && mli_tfrecord_header_parse(pre, UINT64_MAX, &len) == 0))
		import_tfrecord(im, name, fd, pre, (size_t)npre);
	else
		import_list(im, name, fd, pre, (size_t)npre);
	if (!is_stdin)
		close(fd);
}

static void load_labels(struct import *im)
{
	const struct options *o = im->opt;
	const char *why;
	size_t line;
	int rc;

	if (o->dict_path && (rc = mli_dictionary_read(o->dict_path, &im->dict, &line, &why)) < 0) {
		if (rc == MLI_EINVAL && line)
			die(im, "%s: line %zu: %s", o->dict_path, line, why);
		die(im, "%s: %s", o->dict_path, rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
	}
	if (o->map_path && (rc = mli_classmap_read(o->map_path, &im->map, &line, &why)) < 0) {
		if (rc == MLI_EINVAL && line)
			die(im, "%s: line %zu: %s", o->map_path, line, why);
		die(im, "%s: %s", o->map_path, rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
	}
}

int main(int argc, char **argv)
{
	static char *stdin_only[] = { "-" };
	struct options o;
	struct import im;
	struct mli_writer_options wo;
	char **inputs;
	int n_inputs, rc;

	program_init();
	parse_options(argc, argv, &o);
	memset(&im, 0, sizeof im);
	im.opt = &o;
	inputs = o.n_inputs ? o.inputs : stdin_only;
	n_inputs = o.n_inputs ? o.n_inputs : 1;
	load_labels(&im);
	program_refuse_terminal(prog);
	wo.level = o.level;
	if (!(im.w = mli_writer_open(STDOUT_FILENO, &wo)))
		die(&im, "%s", mli_strerror(MLI_ENOMEM));
	mli_progress_init(&im.progress, stderr, prog, "records",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO),
			  program_input_size(o.inputs, o.n_inputs));
	for (int i = 0; i < n_inputs; i++)
		import_input(&im, inputs[i]);
	mli_progress_end(&im.progress);
	if ((rc = mli_writer_finish(im.w)) < 0)
		program_output_failed(prog, rc);
	mli_writer_free(im.w);
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (im.progress.enabled || mli_tally_skipped(&im.tally)))
		mli_tally_print(&im.tally, stderr, prog, mli_now() - im.progress.t0);
	mli_dictionary_free(im.dict);
	mli_classmap_free(im.map);
	free(im.in.v);
	free(im.out.v);
	free(im.file);
	return 0;
}

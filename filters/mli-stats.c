/* mli-stats: the statistics of a dataset as the original release's README
 * gives them, from any mli stream or annotation list.
 *
 * Counts images, the classes that have images, the "trainable" classes
 * (over --min-images images), tags per image and images per class, and
 * optionally writes the README's two figures (images per class; the
 * histogram of tags per image) as TSV and, through gnuplot(1), as PNG.
 * A tag is a label with a positive confidence; ignored labels (-1) are
 * not tags. Memory is one counter per class and per tag count: a stream
 * of any length is read in one pass. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "annotation.h"
#include "dictionary.h"
#include "mli.h"
#include "program.h"

static const char *const prog = "mli-stats";

/* Classes at or beyond this index are not counted (the release has
 * 11,166); it bounds the table. */
#define STATS_CLASSES_MAX (1u << 24)

struct options {
	long min_images;
	long top;
	const char *dict_path;
	int propagate;
	const char *figures;
	int no_plot;
	int progress_mode;
	char **files;
	int n_files;
};

struct stats {
	const struct options *opt;
	struct mli_dictionary *dict;
	uint64_t images, tags;
	uint64_t *per_class;       /* [n_classes] images of each class */
	size_t n_classes;
	uint64_t *per_count;       /* [n_counts] images with each number of tags */
	size_t n_counts;
	struct mli_label *scratch; /* for --propagate */
	struct mli_label *line_labels; /* [MLI_ANNOTATION_LABELS_MAX] of a list line */
	size_t scratch_cap;
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t bytes;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-Ppq] [-d DICT] [-t N] [--min-images N] [-o DIR] [--no-plot] [FILE ...]\n"
		"Print the statistics of mli streams or annotation lists (stdin when no FILE or\n"
		"FILE is -): images, classes, trainable classes, tags per image, images per class.\n"
		"\n"
		"  -d, --dict FILE      the class dictionary: names, and all its classes counted\n"
		"  -P, --propagate      count every ancestor of each label too (needs --dict)\n"
		"  -t, --top N          list the N classes with the most images\n"
		"      --min-images N   a class is trainable with over N images (default 100)\n"
		"  -o, --figures DIR    write the two figures to DIR as TSV and PNG\n"
		"      --no-plot        write the figures as TSV only, without gnuplot\n"
		"  -p, --progress       show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet          no progress and no summary\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n", prog);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_MIN_IMAGES = 256, OPT_NO_PLOT };
	static const struct option longopts[] = {
		{ "dict", required_argument, NULL, 'd' },
		{ "propagate", no_argument, NULL, 'P' },
		{ "top", required_argument, NULL, 't' },
		{ "min-images", required_argument, NULL, OPT_MIN_IMAGES },
		{ "figures", required_argument, NULL, 'o' },
		{ "no-plot", no_argument, NULL, OPT_NO_PLOT },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof *o);
	o->min_images = 100;
	while ((c = getopt_long(argc, argv, "d:Pt:o:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->dict_path = optarg; break;
		case 'P': o->propagate = 1; break;
		case 't':
			if (mli_parse_long(optarg, 0, STATS_CLASSES_MAX, &o->top) < 0)
				program_usage_error(prog, "--top: not a count: '%s'", optarg);
			break;
		case OPT_MIN_IMAGES:
			if (mli_parse_long(optarg, 0, LONG_MAX, &o->min_images) < 0)
				program_usage_error(prog, "--min-images: not a count: '%s'", optarg);
			break;
		case 'o': o->figures = optarg; break;
		case OPT_NO_PLOT: o->no_plot = 1; break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (o->propagate && !o->dict_path)
		program_usage_error(prog, "--propagate needs --dict");
	if (o->no_plot && !o->figures)
		program_usage_error(prog, "--no-plot applies only with --figures");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

static void fail(struct stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(struct stats *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	program_vfail(prog, &s->progress, NULL, fmt, ap);
}

static void *grow(struct stats *s, void *p, size_t *n, size_t want, size_t size)
{
	size_t n2 = *n ? *n : 1024;

	while (n2 < want)
		n2 *= 2;
	uint8_t *q = realloc(p, n2 * size);
	if (!q)
		fail(s, "%s", mli_strerror(MLI_ENOMEM));
	memset(q + *n * size, 0, (n2 - *n) * size);
	*n = n2;
	return q;
}

/* Counts one image with these labels. Returns 0, or MLI_ERANGE for a class
 * out of range (of the table, or of the dictionary with --propagate). */
static int count_image(struct stats *s, const struct mli_label *labels, size_t n)
{
	uint64_t tags = 0;

	if (s->opt->propagate) {
		size_t cap = n + mli_dictionary_size(s->dict);
		int rc;
		if (cap > s->scratch_cap) {
			struct mli_label *p = realloc(s->scratch, cap * sizeof *p);
			if (!p)
				fail(s, "%s", mli_strerror(MLI_ENOMEM));
			s->scratch = p;
			s->scratch_cap = cap;
		}
		if ((rc = mli_dictionary_propagate(s->dict, labels, n, s->scratch, cap)) < 0)
			return rc;
		labels = s->scratch;
		n = (size_t)rc;
	}
	for (size_t i = 0; i < n; i++)
		if (labels[i].cls >= STATS_CLASSES_MAX)
			return MLI_ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (!(labels[i].conf > 0))
			continue;
		if (labels[i].cls >= s->n_classes)
			s->per_class = grow(s, s->per_class, &s->n_classes, labels[i].cls + 1, sizeof *s->per_class);
		s->per_class[labels[i].cls]++;
		tags++;
	}
	if (tags >= s->n_counts)
		s->per_count = grow(s, s->per_count, &s->n_counts, tags + 1, sizeof *s->per_count);
	s->per_count[tags]++;
	s->images++;
	s->tags += tags;
	return 0;
}

static void skip(struct stats *s, const char *reason, const char *name, const char *where, uint64_t at)
{
	mli_tally_skip(&s->tally, reason, 1);
	if (s->opt->progress_mode == MLI_PROGRESS_OFF)
		return;
	mli_progress_end(&s->progress);
	fprintf(stderr, "%s: %s: %s %llu: %s (skipped)\n", prog, name, where, (unsigned long long)at,
		strcmp(reason, "bad-line") == 0 ? "not an annotation" : "a class out of range");
}

/* The images of a BATCH record: from BATCH_LABELS (N counts, then each
 * image's pairs) or else from the dense TARGET matrix [N, classes]. */
static void count_batch(struct stats *s, const struct mli_record *rec, const char *name, uint64_t offset)
{
	const struct mli_field *f = mli_record_field(rec, MLI_TAG_BATCH_LABELS);
	struct mli_tensor in, target;
	const char *why;
	size_t n;

	if (mli_record_tensor(rec, MLI_TAG_INPUT, &in, &why) < 0)
		return;
	n = in.dims[0];
	if (f) {
		/* The reader has checked that the counts match the pairs. */
		const struct mli_label *pairs = (const struct mli_label *)(f->data + 4 * n);
		for (size_t i = 0; i < n; i++) {
			uint32_t k = mli_load32(f->data + 4 * i);
			s->tally.in++;
			if (count_image(s, pairs, k) < 0)
				skip(s, "class-out-of-range", name, "offset", offset);
			else
				s->tally.out++;
			pairs += k;
		}
	} else if (mli_record_tensor(rec, MLI_TAG_TARGET, &target, &why) == 0 && target.ndim == 2
		   && target.dtype == MLI_DTYPE_F32) {
		const float *t = target.data;   /* [N, classes] */
		size_t classes = target.dims[1];
		struct mli_label *row = malloc(classes * sizeof *row);
		if (!row)
			fail(s, "%s", mli_strerror(MLI_ENOMEM));
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;
			for (size_t c = 0; c < classes; c++)
				if (t[i * classes + c] != 0)
					row[k++] = (struct mli_label){ (uint32_t)c, t[i * classes + c] };
			s->tally.in++;
			if (count_image(s, row, k) < 0)
				skip(s, "class-out-of-range", name, "offset", offset);
			else
				s->tally.out++;
		}
		free(row);
	} else {
		s->tally.in += n;
		mli_tally_skip(&s->tally, "no-labels", n);
	}
}

static void stats_stream(struct stats *s, const char *name, int fd, const uint8_t *pre, size_t npre)
{
	struct mli_reader_options ro = { 0, 0 };
	struct mli_reader *r;
	struct mli_record rec;
	int rc, pfd[2];

	/* The reader reads from a descriptor: the bytes already read to guess
	 * the format go first through a pipe of their own. */
	if (npre) {
		if (pipe(pfd) < 0)
			fail(s, "pipe: %s", strerror(errno));
		if (fork() == 0) {
			close(pfd[0]);
			if (mli_write_full(pfd[1], pre, npre) < 0)
				_exit(1);
			for (;;) {
				uint8_t buf[65536];
				ssize_t n = read(fd, buf, sizeof buf);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0 || mli_write_full(pfd[1], buf, (size_t)n) < 0)
					_exit(n < 0);
			}
		}
		close(pfd[1]);
		fd = pfd[0];
	}
	if (!(r = mli_reader_open(fd, &ro)))
		fail(s, "%s", mli_strerror(MLI_ENOMEM));
	while ((rc = mli_reader_next(r, &rec)) > 0) {
		if (rec.type == MLI_TYPE_BATCH) {
			count_batch(s, &rec, name, mli_reader_record_offset(r));
			continue;
		}
		s->tally.in++;
		if (count_image(s, rec.labels, rec.n_labels) < 0)
			skip(s, "class-out-of-range", name, "offset", mli_reader_record_offset(r));
		else
			s->tally.out++;
		mli_progress_update(&s->progress, s->tally.in, s->bytes + mli_reader_stats(r)->offset,
				    mli_tally_skipped(&s->tally));
	}
	if (rc < 0)
		fail(s, "%s: %s", name, mli_reader_message(r));
	s->bytes += mli_reader_stats(r)->offset;
	mli_reader_free(r);
	if (npre) {
		close(fd);
		wait(NULL);
	}
}

static void stats_list(struct stats *s, const char *name, int fd, const uint8_t *pre, size_t npre)
{
	struct mli_lines l = { .fd = fd, .buf = malloc(1 << 16), .cap = 1 << 16, .end = npre };
	uint64_t lineno = 0;
	char *line;
	size_t len;
	int rc;

	if (!s->line_labels)
		s->line_labels = malloc(MLI_ANNOTATION_LABELS_MAX * sizeof *s->line_labels);
	if (!l.buf || !s->line_labels)
		fail(s, "%s", mli_strerror(MLI_ENOMEM));
	memcpy(l.buf, pre, npre);
	while ((rc = mli_lines_next(&l, &line, &len)) > 0) {
		struct mli_annotation a;
		const char *why;
		int prc;

		lineno++;
		s->bytes += len + 1;
		prc = mli_annotation_parse(line, len, s->line_labels, MLI_ANNOTATION_LABELS_MAX, &a, &why);
		if (prc == 0)
			continue;
		s->tally.in++;
		if (prc < 0)
			skip(s, "bad-line", name, "line", lineno);
		else if (count_image(s, a.labels, a.n_labels) < 0)
			skip(s, "class-out-of-range", name, "line", lineno);
		else
			s->tally.out++;
		mli_progress_update(&s->progress, s->tally.in, s->bytes, mli_tally_skipped(&s->tally));
	}
	if (rc < 0)
		fail(s, "%s: %s", name, strerror(errno));
	free(l.buf);
}

/* Reads one input: a stream when it starts with the frame magic, else a
 * list. */
static void stats_input(struct stats *s, const char *arg)
{
	int is_stdin = strcmp(arg, "-") == 0;
	const char *name = is_stdin ? "stdin" : arg;
	int fd = is_stdin ? STDIN_FILENO : open(arg, O_RDONLY | O_CLOEXEC);
	uint8_t pre[4];
	ssize_t n;

	if (fd < 0)
		fail(s, "%s: %s", name, strerror(errno));
	if ((n = mli_read_full(fd, pre, sizeof pre)) < 0)
		fail(s, "%s: %s", name, strerror(errno));
	if (n == 4 && memcmp(pre, MLI_FRAME_MAGIC, 4) == 0) {
		if (lseek(fd, 0, SEEK_SET) == 0)
			stats_stream(s, name, fd, NULL, 0);
		else
			stats_stream(s, name, fd, pre, 4);
	} else {
		stats_list(s, name, fd, pre, (size_t)n);
	}
	if (!is_stdin)
		close(fd);
}

struct ranked {
	uint32_t cls;
	uint64_t images;
};

static int by_images(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->images != y->images)
		return x->images > y->images ? -1 : 1;
	return x->cls < y->cls ? -1 : x->cls > y->cls;
}

/* The classes that have images (every class of the dictionary with one),
 * by images, most first. */
static struct ranked *rank_classes(struct stats *s, size_t *n_out)
{
	size_t n = s->dict ? mli_dictionary_size(s->dict) : s->n_classes;
	size_t k = 0;
	struct ranked *r;

	if (n < s->n_classes)
		n = s->n_classes;
	if (!(r = malloc((n ? n : 1) * sizeof *r)))
		fail(s, "%s", mli_strerror(MLI_ENOMEM));
	for (size_t c = 0; c < n; c++) {
		uint64_t images = c < s->n_classes ? s->per_class[c] : 0;
		if (images || (s->dict && c < mli_dictionary_size(s->dict)))
			r[k++] = (struct ranked){ (uint32_t)c, images };
	}
	qsort(r, k, sizeof *r, by_images);
	*n_out = k;
	return r;
}

static const char *class_name(const struct stats *s, uint32_t cls)
{
	const char *name = s->dict ? mli_dictionary_name(s->dict, cls) : NULL;
	return name ? name : "";
}

/* Runs gnuplot with the script on its standard input. Returns 0, or -1
 * with a message printed. */
static int run_gnuplot(const char *script)
{
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[0], STDIN_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execlp("gnuplot", "gnuplot", (char *)NULL);
		fprintf(stderr, "%s: gnuplot: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(pfd[0]);
	if (mli_write_full(pfd[1], script, strlen(script)) < 0) {
		close(pfd[1]);
		waitpid(pid, &status, 0);
		return -1;
	}
	close(pfd[1]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* Opens DIR/NAME.tmp for writing, its name in tmp (PATH_MAX bytes). */
static FILE *figure_open(struct stats *s, const char *dir, const char *name, char *tmp)
{
	FILE *f;

	if ((size_t)snprintf(tmp, PATH_MAX, "%s/%s.tmp", dir, name) >= PATH_MAX)
		fail(s, "%s: name too long", dir);
	if (!(f = fopen(tmp, "w")))
		fail(s, "%s: %s", tmp, strerror(errno));
	return f;
}

/* Closes a figure's file and gives it its name, so that a figure under
 * its own name is always whole: on a write error (a full disk) the
 * temporary file is removed and nothing replaces an older figure. */
static void figure_close(struct stats *s, FILE *f, const char *dir, const char *name, const char *tmp)
{
	char path[PATH_MAX];
	int bad = ferror(f), e;

	errno = 0;
	if (fclose(f) != 0 || bad) {
		e = errno ? errno : EIO;
		unlink(tmp);
		fail(s, "%s/%s: %s", dir, name, strerror(e));
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		fail(s, "%s: %s", path, strerror(e));
	}
}

/* Whether DIR/NAME.tmp, as gnuplot wrote it, is a whole PNG: 0 or -1. */
static int png_check(const char *dir, const char *name)
{
	char tmp[PATH_MAX];
	struct stat sb;
	uint8_t *buf;
	int fd, ok = 0;

	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (buf = malloc((size_t)sb.st_size))) {
		ok = mli_read_full(fd, buf, (size_t)sb.st_size) == sb.st_size
		     && mli_sniff_complete("image/png", buf, (size_t)sb.st_size);
		free(buf);
	}
	close(fd);
	return ok ? 0 : -1;
}

static void png_drop(const char *dir, const char *name)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
	unlink(tmp);
}

static void png_rename(struct stats *s, const char *dir, const char *name)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (rename(tmp, path) < 0)
		fail(s, "%s: %s", path, strerror(errno));
}

/* Writes DIR/images-per-class.tsv (class, images, name; most first) and
 * DIR/tags-per-image.tsv (tags, images), then their PNGs. */
static void write_figures(struct stats *s, const struct ranked *r, size_t n)
{
	const char *dir = s->opt->figures;
	char tmp[PATH_MAX], script[4 * PATH_MAX + 1024];
	FILE *f;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		fail(s, "%s: %s", dir, strerror(errno));
	f = figure_open(s, dir, "images-per-class.tsv", tmp);
	fprintf(f, "# class\timages\tname\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%u\t%llu\t%s\n", r[i].cls, (unsigned long long)r[i].images, class_name(s, r[i].cls));
	figure_close(s, f, dir, "images-per-class.tsv", tmp);
	f = figure_open(s, dir, "tags-per-image.tsv", tmp);
	fprintf(f, "# tags\timages\n");
	for (size_t t = 0; t < s->n_counts; t++)
		if (s->per_count[t] || t == 0)
			fprintf(f, "%zu\t%llu\n", t, (unsigned long long)s->per_count[t]);
	figure_close(s, f, dir, "tags-per-image.tsv", tmp);
	if (s->opt->no_plot)
		return;
	/* Names with quotes would end gnuplot's strings early. */
	if (strchr(dir, '"') || strchr(dir, '\\'))
		fail(s, "%s: a directory name gnuplot cannot quote; use --no-plot", dir);
	snprintf(script, sizeof script,
		 "set terminal png size 900,600\n"
		 "set datafile separator \"\\t\"\n"
		 "set output \"%s/images-per-class.png.tmp\"\n"
		 "set title \"Images per class\"\n"
		 "set xlabel \"classes, most images first\"\n"
		 "set ylabel \"images\"\n"
		 "set logscale y\n"
		 "set grid\n"
		 "plot \"%s/images-per-class.tsv\" using 0:($2 > 0 ? $2 : 1/0) with boxes fill solid notitle\n"
		 "unset logscale y\n"
		 "set output \"%s/tags-per-image.png.tmp\"\n"
		 "set title \"Tags per image\"\n"
		 "set xlabel \"tags\"\n"
		 "set ylabel \"images\"\n"
		 "set boxwidth 0.8\n"
		 "set xrange [-0.5:*]\n"
		 "set yrange [0:*]\n"
		 "plot \"%s/tags-per-image.tsv\" using 1:2 with boxes fill solid notitle\n",
		 dir, dir, dir, dir);
	/* gnuplot exits 0 even when it could not write a PNG whole (a full
	 * disk): each is checked for its IEND chunk before it is renamed. */
	if (run_gnuplot(script) < 0 || png_check(dir, "images-per-class.png") < 0
	    || png_check(dir, "tags-per-image.png") < 0) {
		png_drop(dir, "images-per-class.png");
		png_drop(dir, "tags-per-image.png");
		fail(s, "%s: gnuplot failed to draw the figures (TSV written; --no-plot skips the PNG)", dir);
	}
	png_rename(s, dir, "images-per-class.png");
	png_rename(s, dir, "tags-per-image.png");
}

int main(int argc, char **argv)
{
	static char *stdin_only[] = { "-" };
	struct options o;
	struct stats s;
	struct ranked *r;
	size_t n_ranked, classes = 0, trainable = 0;
	char **files;
	int n_files;

	program_init();
	parse_options(argc, argv, &o);
	memset(&s, 0, sizeof s);
	s.opt = &o;
	if (o.dict_path) {
		const char *why;
		size_t line;
		int rc = mli_dictionary_read(o.dict_path, &s.dict, &line, &why);
		if (rc == MLI_EINVAL && line)
			fail(&s, "%s: line %zu: %s", o.dict_path, line, why);
		if (rc < 0)
			fail(&s, "%s: %s", o.dict_path, rc == MLI_ESYS ? strerror(errno) : why ? why : mli_strerror(rc));
	}
	files = o.n_files ? o.files : stdin_only;
	n_files = o.n_files ? o.n_files : 1;
	mli_progress_init(&s.progress, stderr, prog, "images", mli_progress_wanted(o.progress_mode, STDERR_FILENO),
			  program_input_size(o.files, o.n_files));
	for (int i = 0; i < n_files; i++)
		stats_input(&s, files[i]);
	mli_progress_end(&s.progress);

	r = rank_classes(&s, &n_ranked);
	for (size_t i = 0; i < n_ranked; i++) {
		classes += r[i].images > 0;
		trainable += r[i].images > (uint64_t)o.min_images;
	}
	printf("images\t%llu\n", (unsigned long long)s.images);
	printf("classes\t%zu\n", classes);
	printf("trainable classes (over %ld images)\t%zu\n", o.min_images, trainable);
	printf("tags per image\t%.2f\n", s.images ? (double)s.tags / (double)s.images : 0.0);
	printf("images per class\t%.2f\n", classes ? (double)s.tags / (double)classes : 0.0);
	for (size_t i = 0; i < (size_t)o.top && i < n_ranked && r[i].images; i++)
		printf("top %zu\t%u\t%llu\t%s\n", i + 1, r[i].cls, (unsigned long long)r[i].images,
		       class_name(&s, r[i].cls));
	if (o.figures)
		write_figures(&s, r, n_ranked);
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (s.progress.enabled || mli_tally_skipped(&s.tally)))
		mli_tally_print(&s.tally, stderr, prog, mli_now() - s.progress.t0);
	free(r);
	free(s.per_class);
	free(s.per_count);
	free(s.scratch);
	free(s.line_labels);
	mli_dictionary_free(s.dict);
	return 0;
}

/* mli-fetch: download the images of an annotation list into a stream of
 * ENCODED records.
 *
 * Reads lines "URL<TAB>class:conf..." (or local paths, or file:// URLs)
 * from the FILEs or stdin and writes one record per image fetched and
 * checked; failures go to the summary and, with --failures, to a TSV file.
 * The engine (libcore/fetch.c) pulls lines only while it has free slots
 * and calls back for each outcome; writing the record (flushed at once, so
 * that a kill leaves only whole frames) blocks the whole loop when the
 * reader downstream is slow, which stops the input too.
 *
 * --resume FILE makes FILE the output: its whole frames are kept, a frame
 * cut short by a kill is cut off, its last segment is closed with an end
 * frame, and the keys it holds are skipped; new records are appended. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "annotation.h"
#include "fetch.h"
#include "keyset.h"
#include "mli.h"
#include "program.h"

static const char *const prog = "mli-fetch";

/* Final URLs of the placeholder images hosts serve for removed photos
 * (Flickr redirects those to .../photo_unavailable.png). */
static const char *const default_reject_urls[] = { "*/photo_unavailable*" };

#define REJECT_URLS_MAX 64
#define LINE_MAX_BYTES (1u << 20)

struct options {
	struct mli_fetch_options fetch;
	const char *failures;
	const char *reject_hash_file;
	const char *reject_urls[REJECT_URLS_MAX];
	size_t n_reject_urls;
	const char *resume;
	const char *retry_from;
	int retry_classes[MLI_FETCH_CLASSES];  /* 1: retry this class; all 0: every class */
	int level;
	int progress_mode;
	char **files;
	int n_files;
};

struct run {
	const struct options *opt;
	struct mli_writer *w;
	FILE *failures;
	struct mli_keyset done_keys;   /* in the --resume file */
	struct mli_keyset retry_keys;  /* chosen from --retry-from */
	int use_retry_keys;
	/* input */
	char **files;
	int n_files, file_i;
	FILE *in;
	const char *in_name;
	uint64_t line_no;
	char *line;
	size_t line_cap;
	struct mli_label labels[MLI_ANNOTATION_LABELS_MAX];
	int input_failed;
	/* counts */
	uint64_t lines, ok, failed, skipped_done, skipped_filter;
	uint64_t by_class[MLI_FETCH_CLASSES];
	uint64_t bytes;
	struct mli_progress progress;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-pq] [-j N] [-r DIR] [-f FILE] [--resume FILE] [options] [LIST ...]\n"
		"Download the images of annotation lists (URL<TAB>class:conf...) as mli records.\n"
		"\n"
		"  -j, --jobs N              transfers at once (default 64)\n"
		"      --per-host N          transfers to one host at once (default 16)\n"
		"  -r, --root DIR            directory of relative paths in the list\n"
		"  -f, --failures FILE       append a line per failure: key, class, detail\n"
		"      --resume FILE         append to FILE, skipping the keys it holds\n"
		"      --retry-from FILE     fetch only the keys of this failures file\n"
		"      --retry-class LIST    with --retry-from: only failures of these classes\n"
		"      --connect-timeout SEC connect timeout (default 10)\n"
		"      --timeout SEC         whole-transfer timeout (default 300)\n"
		"      --low-speed BYTES     abort below this rate (default 1024 bytes/s) ...\n"
		"      --low-speed-time SEC  ... sustained this long (default 30)\n"
		"      --max-bytes SIZE      largest body accepted (default 64M)\n"
		"      --max-redirects N     redirects followed (default 5)\n"
		"      --retries N           retries of a transient failure (default 3)\n"
		"      --backoff SEC         delay before the first retry (default 1)\n"
		"      --backoff-max SEC     longest delay, and longest Retry-After honoured (default 60)\n"
		"      --host-failures N     failures in a row that pause a host (default 10)\n"
		"      --reject-hash FILE    XXH3-64 hashes of placeholder images, one per line\n"
		"      --reject-url PATTERN  final URLs of placeholder images (fnmatch)\n"
		"  -L, --level LEVEL         compress records at zstd LEVEL (default: store them)\n"
		"      --seed N              seed of the retry jitter\n"
		"  -p, --progress            show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet               no progress and no summary\n"
		"  -h, --help                show this help\n"
		"  -V, --version             show the version\n", prog);
}

static long seconds_ms(const char *opt, const char *s, double lo, double hi)
{
	double d;

	if (mli_parse_double(s, lo, hi, &d) < 0)
		program_usage_error(prog, "%s: not a number of seconds from %g to %g: '%s'", opt, lo, hi, s);
	return (long)(d * 1000.0 + 0.5);
}

static int parse_int(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (mli_parse_long(s, lo, hi, &v) < 0)
		program_usage_error(prog, "%s: not a number from %ld to %ld: '%s'", opt, lo, hi, s);
	return (int)v;
}

static void parse_classes(const char *s, int *chosen)
{
	while (*s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		int c = mli_fetch_class_parse(s, n);

		if (c <= 0)
			program_usage_error(prog, "--retry-class: not a failure class: '%.*s'", (int)n, s);
		chosen[c] = 1;
		s += n + (e ? 1 : 0);
	}
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_PER_HOST = 256, OPT_RESUME, OPT_RETRY_FROM, OPT_RETRY_CLASS, OPT_CONNECT_TIMEOUT,
		OPT_TIMEOUT, OPT_LOW_SPEED, OPT_LOW_SPEED_TIME, OPT_MAX_BYTES, OPT_MAX_REDIRECTS,
		OPT_RETRIES, OPT_BACKOFF, OPT_BACKOFF_MAX, OPT_HOST_FAILURES, OPT_REJECT_HASH,
		OPT_REJECT_URL, OPT_SEED
	};
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "per-host", required_argument, NULL, OPT_PER_HOST },
		{ "root", required_argument, NULL, 'r' },
		{ "failures", required_argument, NULL, 'f' },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "retry-from", required_argument, NULL, OPT_RETRY_FROM },
		{ "retry-class", required_argument, NULL, OPT_RETRY_CLASS },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "low-speed", required_argument, NULL, OPT_LOW_SPEED },
		{ "low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME },
		{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
		{ "max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "backoff", required_argument, NULL, OPT_BACKOFF },
		{ "backoff-max", required_argument, NULL, OPT_BACKOFF_MAX },
		{ "host-failures", required_argument, NULL, OPT_HOST_FAILURES },
		{ "reject-hash", required_argument, NULL, OPT_REJECT_HASH },
		{ "reject-url", required_argument, NULL, OPT_REJECT_URL },
		{ "level", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct mli_fetch_options *f = &o->fetch;
	int c, classes_given = 0;
	uint64_t size;
	long v;

	memset(o, 0, sizeof *o);
	mli_fetch_options_default(f);
	o->level = -1;
	f->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (size_t i = 0; i < sizeof default_reject_urls / sizeof *default_reject_urls; i++)
		o->reject_urls[o->n_reject_urls++] = default_reject_urls[i];
	while ((c = getopt_long(argc, argv, "j:r:f:L:pqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': f->jobs = parse_int("--jobs", optarg, 1, 65536); break;
		case OPT_PER_HOST: f->per_host = parse_int("--per-host", optarg, 1, 65536); break;
		case 'r': f->root = optarg; break;
		case 'f': o->failures = optarg; break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_RETRY_FROM: o->retry_from = optarg; break;
		case OPT_RETRY_CLASS: parse_classes(optarg, o->retry_classes); classes_given = 1; break;
		case OPT_CONNECT_TIMEOUT:
			f->connect_timeout_ms = seconds_ms("--connect-timeout", optarg, 0.001, 86400);
			break;
		case OPT_TIMEOUT: f->timeout_ms = seconds_ms("--timeout", optarg, 0.001, 86400 * 7); break;
		case OPT_LOW_SPEED:
			if (mli_parse_size(optarg, LONG_MAX, &size) < 0)
				program_usage_error(prog, "--low-speed: not a rate in bytes/s: '%s'", optarg);
			f->low_speed_limit = (long)size;
			break;
		case OPT_LOW_SPEED_TIME: f->low_speed_time = parse_int("--low-speed-time", optarg, 1, 86400); break;
		case OPT_MAX_BYTES:
			if (mli_parse_size(optarg, (uint64_t)1 << 40, &size) < 0 || size == 0)
				program_usage_error(prog, "--max-bytes: not a size from 1 to 1T: '%s'", optarg);
			f->max_bytes = size;
			break;
		case OPT_MAX_REDIRECTS: f->max_redirects = parse_int("--max-redirects", optarg, 0, 100); break;
		case OPT_RETRIES: f->retries = parse_int("--retries", optarg, 0, 100); break;
		case OPT_BACKOFF: f->backoff_ms = (double)seconds_ms("--backoff", optarg, 0, 86400); break;
		case OPT_BACKOFF_MAX: f->backoff_max_ms = (double)seconds_ms("--backoff-max", optarg, 0, 86400); break;
		case OPT_HOST_FAILURES: f->host_failures = parse_int("--host-failures", optarg, 0, INT_MAX); break;
		case OPT_REJECT_HASH: o->reject_hash_file = optarg; break;
		case OPT_REJECT_URL:
			if (o->n_reject_urls == REJECT_URLS_MAX)
				program_usage_error(prog, "--reject-url: at most %d patterns", REJECT_URLS_MAX - 1);
			o->reject_urls[o->n_reject_urls++] = optarg;
			break;
		case 'L': o->level = parse_int("--level", optarg, 1, 19); break;
		case OPT_SEED:
			if (mli_parse_long(optarg, 0, LONG_MAX, &v) < 0)
				program_usage_error(prog, "--seed: not a number: '%s'", optarg);
			f->seed = (uint64_t)v;
			break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (classes_given && !o->retry_from)
		program_usage_error(prog, "--retry-class needs --retry-from");
	if (f->max_bytes > SIZE_MAX / 2)
		f->max_bytes = SIZE_MAX / 2;
	f->reject_urls = o->reject_urls;
	f->n_reject_urls = o->n_reject_urls;
	o->files = argv + optind;
	o->n_files = argc - optind;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads --reject-hash: a hash per line, 16 hex digits, bare or as
 * xxhsum -H3 prints them ("XXH3 (FILE) = HASH"; "XXH3_HASH  FILE" from
 * older versions), anything after white space ignored, '#' lines and
 * blank lines skipped. */
static void load_reject_hashes(struct options *o)
{
	FILE *fp = fopen(o->reject_hash_file, "r");
	uint64_t *h = NULL;
	size_t n = 0, cap = 0, lineno = 0, buf_cap = 0;
	char *buf = NULL;
	ssize_t len;

	if (!fp) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->reject_hash_file, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	while ((len = getline(&buf, &buf_cap, fp)) >= 0) {
		uint64_t v;
		int rc;
		lineno++;
		if ((rc = mli_fetch_hash_line_parse(buf, (size_t)len, &v)) == 0)
			continue;
		if (rc < 0) {
			fprintf(stderr, "%s: %s: line %zu: not a 16-digit hex hash\n", prog, o->reject_hash_file, lineno);
			exit(PROGRAM_EXIT_FAILURE);
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (!(h = realloc(h, cap * sizeof *h))) {
				fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
				exit(PROGRAM_EXIT_FAILURE);
			}
		}
		h[n++] = v;
	}
	if (ferror(fp)) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->reject_hash_file, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	free(buf);
	fclose(fp);
	qsort(h, n, sizeof *h, cmp_u64);
	o->fetch.reject_hashes = h;
	o->fetch.n_reject_hashes = n;
}

/* Reads --retry-from: the keys of failures of the chosen classes. */
static void load_retry_keys(struct run *r)
{
	const struct options *o = r->opt;
	FILE *fp = fopen(o->retry_from, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int any = 0;

	for (int i = 0; i < MLI_FETCH_CLASSES; i++)
		any |= o->retry_classes[i];
	if (!fp) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->retry_from, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		char *t1 = memchr(line, '\t', (size_t)len), *t2;
		int cls;
		if (!t1)
			continue;
		t2 = memchr(t1 + 1, '\t', (size_t)(line + len - t1 - 1));
		cls = mli_fetch_class_parse(t1 + 1, t2 ? (size_t)(t2 - t1 - 1) : strcspn(t1 + 1, "\r\n"));
		if (cls < 0 || (any && !o->retry_classes[cls]))
			continue;
		if (mli_keyset_add(&r->retry_keys, line, (size_t)(t1 - line)) < 0) {
			fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
	free(line);
	fclose(fp);
	r->use_retry_keys = 1;
}

/* Appends an end frame closing a segment read from a file being resumed. */
static int close_segment(int fd, const struct mli_segment *seg)
{
	struct mli_writer_options wo = { -1 };
	struct mli_writer *w = mli_writer_open(fd, &wo);
	uint8_t v[8];
	int rc;

	if (!w)
		return MLI_ENOMEM;
	if ((rc = mli_writer_begin(w, MLI_TYPE_END)) == 0) {
		mli_store64(v, seg->count);
		rc = mli_writer_field(w, MLI_TAG_COUNT, v, 8);
	}
	if (rc == 0) {
		mli_store64(v, seg->bytes);
		rc = mli_writer_field(w, MLI_TAG_BYTES, v, 8);
	}
	if (rc == 0) {
		mli_store64(v, seg->digest);
		rc = mli_writer_field(w, MLI_TAG_DIGEST, v, 8);
	}
	if (rc == 0 && (rc = mli_writer_end(w)) == 0)
		rc = mli_writer_flush(w);
	mli_writer_free(w);
	return rc;
}

/* Opens the --resume file for appending after reading its keys and
 * repairing its end: a stream cut by a kill keeps its whole frames, and
 * its open segment gets the end frame the killed run never wrote. */
static int open_resume(struct run *r, const char *path)
{
	struct mli_reader_options ro = { 0, 0 };
	struct mli_reader *rd;
	const struct mli_reader_stats *st;
	struct mli_segment seg;
	struct mli_record rec;
	uint64_t keep = 0, segments = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666), rc;
	struct stat sb;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(PROGRAM_EXIT_FAILURE);
	}
	if (sb.st_size == 0)
		return fd;
	if (!(rd = mli_reader_open(fd, &ro))) {
		fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
		exit(PROGRAM_EXIT_FAILURE);
	}
	st = mli_reader_stats(rd);
	mli_segment_reset(&seg);
	while ((rc = mli_reader_next(rd, &rec)) > 0) {
		struct mli_frame_header h;
		const uint8_t *stored;

		if (st->segments != segments) {
			mli_segment_reset(&seg);
			segments = st->segments;
		}
		mli_reader_frame(rd, &h, &stored);
		mli_segment_add(&seg, &h);
		keep = mli_reader_record_offset(rd) + MLI_FRAME_HEADER_SIZE + h.stored_size;
		if (mli_keyset_add(&r->done_keys, rec.key, rec.key_len) < 0) {
			fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
	if (rc == 0) {
		/* A complete stream: append a new segment after it. */
		mli_reader_free(rd);
		if (lseek(fd, 0, SEEK_END) < 0)
			goto sys;
		return fd;
	}
	if (rc != MLI_ETRUNC) {
		fprintf(stderr, "%s: %s: %s; not resuming a damaged stream\n", prog, path, mli_reader_message(rd));
		exit(PROGRAM_EXIT_FAILURE);
	}
	mli_reader_free(rd);
	/* Cut after the last whole record and close its segment (again, if
	 * its end frame had been written: the same figures). */
	if (ftruncate(fd, (off_t)keep) < 0 || lseek(fd, (off_t)keep, SEEK_SET) < 0)
		goto sys;
	if (keep > 0 && (rc = close_segment(fd, &seg)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, mli_strerror(rc));
		exit(PROGRAM_EXIT_FAILURE);
	}
	return fd;
sys:
	fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	exit(PROGRAM_EXIT_FAILURE);
}

/* Writes text to the failures file with TABs and line ends as spaces. */
static void put_field(FILE *fp, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc(s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], fp);
}

static void count_failure(struct run *r, int cls, const char *key, size_t key_len, const char *detail)
{
	r->failed++;
	r->by_class[cls]++;
	if (r->failures) {
		put_field(r->failures, key, key_len);
		fprintf(r->failures, "\t%s\t", mli_fetch_class_name(cls));
		put_field(r->failures, detail, strlen(detail));
		fputc('\n', r->failures);
		if (fflush(r->failures) == EOF || ferror(r->failures)) {
			mli_progress_end(&r->progress);
			fprintf(stderr, "%s: %s: %s\n", prog, r->opt->failures, strerror(errno));
			exit(PROGRAM_EXIT_FAILURE);
		}
	}
}

static void update_progress(struct run *r)
{
	mli_progress_update(&r->progress, r->ok + r->failed, r->bytes, r->failed);
}

/* Opens the next input; 0 when there is none. */
static int next_input(struct run *r)
{
	if (r->in && r->in != stdin)
		fclose(r->in);
	r->in = NULL;
	while (r->file_i < r->n_files) {
		const char *name = r->files[r->file_i++];
		r->line_no = 0;
		if (strcmp(name, "-") == 0) {
			r->in = stdin;
			r->in_name = "stdin";
			return 1;
		}
		if ((r->in = fopen(name, "r"))) {
			r->in_name = name;
			return 1;
		}
		mli_progress_end(&r->progress);
		fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
		r->input_failed = 1;
	}
	return 0;
}

static int next_request(void *ctx, struct mli_fetch_request *req)
{
	struct run *r = ctx;

	for (;;) {
		struct mli_annotation a;
		const char *why = NULL;
		ssize_t len;
		int rc;

		if (!r->in && !next_input(r))
			return 0;
		errno = 0;
		if ((len = getline(&r->line, &r->line_cap, r->in)) < 0) {
			if (ferror(r->in)) {
				mli_progress_end(&r->progress);
				fprintf(stderr, "%s: %s: %s\n", prog, r->in_name, strerror(errno));
				r->input_failed = 1;
			}
			if (!next_input(r))
				return 0;
			continue;
		}
		r->line_no++;
		if (len > 0 && r->line[len - 1] == '\n')
			len--;
		if ((size_t)len > LINE_MAX_BYTES) {
			rc = MLI_EINVAL;
			why = "line too long";
			a.key = r->line;
			a.key_len = 64;
		} else {
			rc = mli_annotation_parse(r->line, (size_t)len, r->labels, MLI_ANNOTATION_LABELS_MAX, &a, &why);
		}
		if (rc == 0)
			continue;
		r->lines++;
		if (rc < 0) {
			char detail[128];
			size_t klen = strcspn(r->line, "\t\n");
			snprintf(detail, sizeof detail, "%s line %llu: %s", r->in_name,
				 (unsigned long long)r->line_no, why);
			count_failure(r, MLI_FETCH_BAD_LINE, r->line, klen > 200 ? 200 : klen, detail);
			update_progress(r);
			continue;
		}
		if (mli_keyset_has(&r->done_keys, a.key, a.key_len)) {
			r->skipped_done++;
			continue;
		}
		if (r->use_retry_keys && !mli_keyset_has(&r->retry_keys, a.key, a.key_len)) {
			r->skipped_filter++;
			continue;
		}
		r->line[a.key_len] = '\0';
		req->key = a.key;
		req->key_len = a.key_len;
		req->labels = a.labels;
		req->n_labels = a.n_labels;
		return 1;
	}
}

static int write_record(struct run *r, const struct mli_fetch_result *res)
{
	struct mli_writer *w = r->w;
	int rc;

	if ((rc = mli_writer_begin(w, MLI_TYPE_ENCODED)) < 0
	    || (rc = mli_writer_key(w, res->key, res->key_len)) < 0
	    || (rc = mli_writer_labels(w, res->labels, res->n_labels)) < 0
	    || (rc = mli_writer_field(w, MLI_TAG_BLOB, res->body, res->body_len)) < 0
	    || (rc = mli_writer_field(w, MLI_TAG_MEDIA, res->media, strlen(res->media))) < 0)
		return rc;
	if (res->source && mli_text_valid((const uint8_t *)res->source, strlen(res->source), MLI_KEY_MAX)
	    && (rc = mli_writer_field(w, MLI_TAG_SOURCE, res->source, strlen(res->source))) < 0)
		return rc;
	if (res->status) {
		uint8_t v[4];
		mli_store32(v, (uint32_t)res->status);
		if ((rc = mli_writer_field(w, MLI_TAG_HTTP_STATUS, v, 4)) < 0)
			return rc;
	}
	if (res->content_type && mli_text_valid((const uint8_t *)res->content_type, strlen(res->content_type), 1024)
	    && (rc = mli_writer_field(w, MLI_TAG_CONTENT_TYPE, res->content_type, strlen(res->content_type))) < 0)
		return rc;
	if ((rc = mli_writer_end(w)) < 0)
		return rc;
	/* Whole frames reach the file at once: a kill loses only what is in
	 * flight, which a resumed run fetches again. */
	return mli_writer_flush(w);
}

static int take_result(void *ctx, const struct mli_fetch_result *res)
{
	struct run *r = ctx;
	int rc;

	if (res->cls == MLI_FETCH_OK) {
		if ((rc = write_record(r, res)) < 0)
			return rc;
		r->ok++;
		r->by_class[MLI_FETCH_OK]++;
		r->bytes += res->body_len;
	} else {
		count_failure(r, res->cls, res->key, res->key_len, res->detail);
	}
	update_progress(r);
	return 0;
}

static void print_summary(const struct run *r, double seconds)
{
	fprintf(stderr, "%s: %llu lines, %llu ok, %llu failed", prog, (unsigned long long)r->lines,
		(unsigned long long)r->ok, (unsigned long long)r->failed);
	if (r->failed) {
		const char *sep = " (";
		for (int c = 1; c < MLI_FETCH_CLASSES; c++)
			if (r->by_class[c]) {
				fprintf(stderr, "%s%llu %s", sep, (unsigned long long)r->by_class[c],
					mli_fetch_class_name(c));
				sep = ", ";
			}
		fputc(')', stderr);
	}
	if (r->skipped_done)
		fprintf(stderr, ", %llu already done", (unsigned long long)r->skipped_done);
	if (r->skipped_filter)
		fprintf(stderr, ", %llu not retried", (unsigned long long)r->skipped_filter);
	fprintf(stderr, ", %.1f MB, %.1f s, %.0f images/s\n", (double)r->bytes / 1e6, seconds,
		seconds > 0 ? (double)r->ok / seconds : 0.0);
}

int main(int argc, char **argv)
{
	static char *stdin_only[] = { "-" };
	static struct run r;
	struct options o;
	struct mli_writer_options wo;
	struct mli_fetch_stats stats;
	const char *why;
	int out_fd = STDOUT_FILENO, rc;

	program_init();
	/* Bodies of a few hundred KB (the page faults were a third of the
	 * CPU of a download on loopback). */
	program_keep_heap((size_t)32 << 20, (size_t)256 << 20);
	parse_options(argc, argv, &o);
	r.opt = &o;
	r.files = o.n_files ? o.files : stdin_only;
	r.n_files = o.n_files ? o.n_files : 1;
	mli_keyset_init(&r.done_keys);
	mli_keyset_init(&r.retry_keys);
	if (o.reject_hash_file)
		load_reject_hashes(&o);
	if (o.retry_from)
		load_retry_keys(&r);
	if (o.resume)
		out_fd = open_resume(&r, o.resume);
	else
		program_refuse_terminal(prog);
	if (o.failures && !(r.failures = fopen(o.failures, "a"))) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.failures, strerror(errno));
		return PROGRAM_EXIT_FAILURE;
	}
	wo.level = o.level;
	if (!(r.w = mli_writer_open(out_fd, &wo))) {
		fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
		return PROGRAM_EXIT_FAILURE;
	}
	mli_progress_init(&r.progress, stderr, prog, "images",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO), 0);

	rc = mli_fetch_run(&o.fetch, next_request, take_result, &r, &stats, &why);
	mli_progress_end(&r.progress);
	if (rc < 0) {
		/* The records written so far stay, as whole frames; without an
		 * end frame the output shows that it is incomplete. */
		mli_writer_flush(r.w);
		if (rc == MLI_EPIPE)
			program_output_failed(prog, rc);
		if (why)
			fprintf(stderr, "%s: %s: %s\n", prog, why, mli_strerror(rc));
		else
			fprintf(stderr, "%s: %s: %s\n", prog, o.resume ? o.resume : "stdout", mli_strerror(rc));
		return PROGRAM_EXIT_FAILURE;
	}
	if ((rc = mli_writer_finish(r.w)) < 0)
		program_output_failed(prog, rc);
	mli_writer_free(r.w);
	if (o.resume && close(out_fd) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.resume, strerror(errno));
		return PROGRAM_EXIT_FAILURE;
	}
	if (r.failures && fclose(r.failures) == EOF) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.failures, strerror(errno));
		return PROGRAM_EXIT_FAILURE;
	}
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF) {
		if (stats.jobs < o.fetch.jobs)
			fprintf(stderr, "%s: --jobs %d lowered to %d to stay within the descriptor limit\n", prog,
				o.fetch.jobs, stats.jobs);
		print_summary(&r, mli_now() - r.progress.t0);
	}
	mli_keyset_free(&r.done_keys);
	mli_keyset_free(&r.retry_keys);
	free(r.line);
	free((void *)o.fetch.reject_hashes);
	return r.input_failed ? PROGRAM_EXIT_FAILURE : 0;
}

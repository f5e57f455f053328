/* mli-cat: concatenate, verify and inspect mli streams.
 *
 * Reads each FILE (or stdin) with full checking and, by default, writes
 * its records as one stream on stdout: frames are copied as they are
 * (recompressed only with --level), the inputs' end frames are dropped and
 * one end frame closes the output. The other modes list, count, verify or
 * extract instead. On a bad input the output keeps every whole frame
 * written so far but no end frame, so a consumer sees it as truncated. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mli.h"
#include "program.h"

static const char *const prog = "mli-cat";

enum mode { MODE_FRAMES, MODE_LIST, MODE_JSON, MODE_COUNT, MODE_VERIFY, MODE_EXTRACT };

struct options {
	enum mode mode;
	long head;                /* records to pass; -1: all */
	const char *extract_dir;
	int level;                /* 0: copy frames as they are */
	int skip_bad;
	uint32_t limit;
	int progress_mode;
	char **files;
	int n_files;
};

struct cat {
	const struct options *opt;
	struct mli_writer *w;
	struct mli_tally tally;
	struct mli_progress progress;
	uint64_t bytes_before;     /* input bytes of the files already read */
	int failed;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-cjlqps] [--verify] [-n N] [-x DIR] [-L LEVEL] [--limit SIZE] [FILE ...]\n"
		"Concatenate, verify and inspect mli streams (stdin when no FILE or FILE is -).\n"
		"\n"
		"  -l, --list          one line per record: type, key, labels, sizes\n"
		"  -j, --json          one JSON object per record\n"
		"  -c, --count         print the number of records\n"
		"      --verify        check every frame and end frame; report the first fault\n"
		"  -x, --extract DIR   write encoded images (and pixels, as PNM) to files in DIR\n"
		"  -n, --head N        stop after N records\n"
		"  -L, --level LEVEL   recompress the output at zstd LEVEL (1-19)\n"
		"  -s, --skip-bad      skip bad frames, resynchronise and count them\n"
		"      --limit SIZE    largest frame accepted (default 256M)\n"
		"  -p, --progress      show progress on stderr even when it is not a terminal\n"
		"  -q, --quiet         no progress and no summary\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n", prog);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_VERIFY = 256, OPT_LIMIT };
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", no_argument, NULL, 'c' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "extract", required_argument, NULL, 'x' },
		{ "head", required_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'L' },
		{ "skip-bad", no_argument, NULL, 's' },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int modes = 0, c;
	long v;
	uint64_t size;

	memset(o, 0, sizeof *o);
	o->head = -1;
	while ((c = getopt_long(argc, argv, "ljcx:n:L:spqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->mode = MODE_LIST; modes++; break;
		case 'j': o->mode = MODE_JSON; modes++; break;
		case 'c': o->mode = MODE_COUNT; modes++; break;
		case OPT_VERIFY: o->mode = MODE_VERIFY; modes++; break;
		case 'x': o->mode = MODE_EXTRACT; o->extract_dir = optarg; modes++; break;
		case 'n':
			if (mli_parse_long(optarg, 0, LONG_MAX, &v) < 0)
				program_usage_error(prog, "--head: not a count: '%s'", optarg);
			o->head = v;
			break;
		case 'L':
			if (mli_parse_long(optarg, 1, 19, &v) < 0)
				program_usage_error(prog, "--level: not a level from 1 to 19: '%s'", optarg);
			o->level = (int)v;
			break;
		case 's': o->skip_bad = 1; break;
		case OPT_LIMIT:
			if (mli_parse_size(optarg, MLI_FRAME_LIMIT_MAX, &size) < 0 || size < 1024)
				program_usage_error(prog, "--limit: not a size from 1K to 4G-1: '%s'", optarg);
			o->limit = (uint32_t)size;
			break;
		default:
			program_common_option(prog, c, usage, &o->progress_mode);
		}
	}
	if (modes > 1)
		program_usage_error(prog, "choose one of --list, --json, --count, --verify and --extract");
	if (o->level && o->mode != MODE_FRAMES)
		program_usage_error(prog, "--level applies only when writing frames");
	o->files = argv + optind;
	o->n_files = argc - optind;
}

/* Prints text with control characters shown as '?', so that one record
 * stays one line whatever its key holds. */
static void put_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void type_name(int type, char *buf, size_t len)
{
	const char *name = mli_type_name(type);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "TYPE-%d", type);
}

static void put_dims(const struct mli_tensor *t)
{
	for (int i = 0; i < t->ndim; i++)
		printf("%s%u", i ? "x" : "", t->dims[i]);
}

static const char *dtype_name(int dtype)
{
	switch (dtype) {
	case MLI_DTYPE_U8: return "u8";
	case MLI_DTYPE_F32: return "f32";
	case MLI_DTYPE_I32: return "i32";
	case MLI_DTYPE_F16: return "f16";
	}
	return "?";
}

static void list_record(const struct mli_record *rec, const struct mli_frame_header *h)
{
	const struct mli_field *media = mli_record_field(rec, MLI_TAG_MEDIA);
	const struct mli_field *blob = mli_record_field(rec, MLI_TAG_BLOB);
	struct mli_tensor t;
	const char *why;
	char type[16];

	type_name(rec->type, type, sizeof type);
	printf("%s\t", type);
	put_text(rec->key, rec->key_len);
	putchar('\t');
	for (size_t i = 0; i < rec->n_labels; i++)
		printf("%s%u:%g", i ? "," : "", rec->labels[i].cls, (double)rec->labels[i].conf);
	if (rec->n_labels == 0)
		putchar('-');
	printf("\tcontent=%u stored=%u", h->content_size, h->stored_size);
	if (blob)
		printf(" bytes=%u", blob->size);
	if (media) {
		fputs(" media=", stdout);
		put_text((const char *)media->data, media->size);
	}
	if (mli_record_tensor(rec, MLI_TAG_PIXELS, &t, &why) == 0) {
		fputs(" shape=", stdout);
		put_dims(&t);
	}
	if (mli_record_tensor(rec, MLI_TAG_INPUT, &t, &why) == 0) {
		fputs(" input=", stdout);
		put_dims(&t);
		printf(":%s", dtype_name(t.dtype));
	}
	if (mli_record_tensor(rec, MLI_TAG_TARGET, &t, &why) == 0) {
		fputs(" target=", stdout);
		put_dims(&t);
	}
	putchar('\n');
}

/* A JSON string of text that the reader has checked to be UTF-8. */
static json_t *json_text(const void *p, size_t n)
{
	return json_stringn((const char *)p, n);
}

static json_t *json_dims(const struct mli_tensor *t)
{
	json_t *a = json_array();

	for (int i = 0; i < t->ndim; i++)
		json_array_append_new(a, json_integer(t->dims[i]));
	return a;
}

static void json_record(const struct mli_record *rec, const struct mli_frame_header *h, uint64_t offset)
{
	const struct mli_field *f;
	json_t *o = json_object(), *labels = json_array();
	struct mli_tensor t;
	const char *why;
	char type[16];

	type_name(rec->type, type, sizeof type);
	json_object_set_new(o, "offset", json_integer((json_int_t)offset));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "key", json_text(rec->key, rec->key_len));
	for (size_t i = 0; i < rec->n_labels; i++)
		json_array_append_new(labels, json_pack("[If]", (json_int_t)rec->labels[i].cls,
							(double)rec->labels[i].conf));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "content", json_integer(h->content_size));
	json_object_set_new(o, "stored", json_integer(h->stored_size));
	if ((f = mli_record_field(rec, MLI_TAG_BLOB)))
		json_object_set_new(o, "bytes", json_integer(f->size));
	if ((f = mli_record_field(rec, MLI_TAG_MEDIA)))
		json_object_set_new(o, "media", json_text(f->data, f->size));
	if ((f = mli_record_field(rec, MLI_TAG_SOURCE)))
		json_object_set_new(o, "source", json_text(f->data, f->size));
	if ((f = mli_record_field(rec, MLI_TAG_HTTP_STATUS)))
		json_object_set_new(o, "http_status", json_integer(mli_load32(f->data)));
	if ((f = mli_record_field(rec, MLI_TAG_VIEW)))
		json_object_set_new(o, "view", json_integer(mli_load32(f->data)));
	if (mli_record_tensor(rec, MLI_TAG_PIXELS, &t, &why) == 0)
		json_object_set_new(o, "shape", json_dims(&t));
	if (mli_record_tensor(rec, MLI_TAG_INPUT, &t, &why) == 0) {
		json_object_set_new(o, "input", json_dims(&t));
		json_object_set_new(o, "dtype", json_string(dtype_name(t.dtype)));
	}
	if (mli_record_tensor(rec, MLI_TAG_TARGET, &t, &why) == 0)
		json_object_set_new(o, "target", json_dims(&t));
	json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(7));
	putchar('\n');
	json_decref(o);
}

/* A file name for a record in DIR: the last component of its key (a URL's
 * query dropped), with anything but [A-Za-z0-9._-] replaced by '_'. */
static void extract_name(const struct mli_record *rec, char *name, size_t len)
{
	const char *k = rec->key, *end = rec->key + rec->key_len, *p;
	size_t n = 0;

	for (p = k; p < end && *p != '?' && *p != '#'; p++)
		;
	end = p;
	while (end > k && end[-1] == '/')
		end--;
	for (p = end; p > k && p[-1] != '/'; p--)
		;
	for (; p < end && n + 1 < len; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
			 || *p == '.' || *p == '-' || *p == '_';
		name[n++] = ok ? *p : '_';
	}
	name[n] = '\0';
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		snprintf(name, len, "record");
}

/* Writes the bytes to DIR/NAME atomically and without overwriting: into a
 * temporary file first, then linked under the first free name among NAME,
 * NAME-1, NAME-2 (before the extension). */
static int write_file(int dirfd, const char *name, const void *head, size_t head_len,
		      const void *data, size_t len, char *chosen, size_t chosen_len)
{
	char tmp[64];
	const char *dot = strrchr(name, '.');
	size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);
	int fd, rc = 0;

	snprintf(tmp, sizeof tmp, ".mli-cat.%ld.tmp", (long)getpid());
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return MLI_ESYS;
	if ((head_len && (rc = mli_write_full(fd, head, head_len)) < 0)
	    || (rc = mli_write_full(fd, data, len)) < 0 || (fsync(fd) < 0 && (rc = MLI_ESYS))) {
		int e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return rc;
	}
	if (close(fd) < 0) {
		unlinkat(dirfd, tmp, 0);
		return MLI_ESYS;
	}
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(chosen, chosen_len, "%s", name);
		else
			snprintf(chosen, chosen_len, "%.*s-%d%s", (int)stem, name, i, name + stem);
		if (linkat(dirfd, tmp, dirfd, chosen, 0) == 0)
			break;
		if (errno != EEXIST || i == 100000) {
			int e = errno;
			unlinkat(dirfd, tmp, 0);
			errno = e;
			return MLI_ESYS;
		}
	}
	unlinkat(dirfd, tmp, 0);
	return 0;
}

/* Extracts an ENCODED record's bytes, or an IMAGE record's pixels as PGM
 * or PPM. Returns 1 when written, 0 when the record holds no image. */
static int extract_record(int dirfd, const struct mli_record *rec, const char *dir)
{
	const struct mli_field *blob = mli_record_field(rec, MLI_TAG_BLOB);
	struct mli_tensor t;
	const char *why;
	char name[256], chosen[300], header[64];
	int rc;

	extract_name(rec, name, sizeof name - 8);
	if (blob) {
		const struct mli_field *media = mli_record_field(rec, MLI_TAG_MEDIA);
		if (!strchr(name, '.') && media && media->size == 10 && !memcmp(media->data, "image/jpeg", 10))
			strcat(name, ".jpg");
		else if (!strchr(name, '.') && media && media->size == 9 && !memcmp(media->data, "image/png", 9))
			strcat(name, ".png");
		rc = write_file(dirfd, name, NULL, 0, blob->data, blob->size, chosen, sizeof chosen);
	} else if (mli_record_tensor(rec, MLI_TAG_PIXELS, &t, &why) == 0 && (t.dims[2] == 1 || t.dims[2] == 3)) {
		int hl = snprintf(header, sizeof header, "P%c\n%u %u\n255\n", t.dims[2] == 1 ? '5' : '6',
				  t.dims[1], t.dims[0]);
		strcat(name, t.dims[2] == 1 ? ".pgm" : ".ppm");
		rc = write_file(dirfd, name, header, (size_t)hl, t.data, t.count, chosen, sizeof chosen);
	} else {
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s/%s: %s\n", prog, dir, name, mli_strerror(rc));
		exit(PROGRAM_EXIT_FAILURE);
	}
	return 1;
}

static void flush_stdout(void *ctx)
{
	(void)ctx;
	fflush(stdout);
}

/* Reads one input through to its end, or to the first fault. Returns 0,
 * or -1 after reporting a fault. *stop is set once --head is reached. */
static int cat_input(struct cat *c, const char *name, int fd, int dirfd, int *stop)
{
	const struct options *o = c->opt;
	struct mli_reader_options ro = { o->limit, o->skip_bad };
	struct mli_reader *r = mli_reader_open(fd, &ro);
	const struct mli_reader_stats *st;
	uint64_t skipped = 0, bad_segments = 0, records_here = 0;
	struct mli_record rec;
	int rc, out_rc = 0;

	if (!r) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_strerror(MLI_ENOMEM));
		exit(PROGRAM_EXIT_FAILURE);
	}
	/* What is done goes out before a wait for more input, so that a
	 * slow producer never holds back records already read. */
	if (c->w)
		mli_reader_on_wait(r, mli_writer_flush_hook, c->w);
	else
		mli_reader_on_wait(r, flush_stdout, NULL);
	st = mli_reader_stats(r);
	while (!*stop && (rc = mli_reader_next(r, &rec)) > 0) {
		struct mli_frame_header h;
		const uint8_t *stored;

		if (st->frames_skipped != skipped || st->bad_segments != bad_segments) {
			mli_progress_end(&c->progress);
			if (o->progress_mode != MLI_PROGRESS_OFF)
				fprintf(stderr, "%s: %s: %s (skipped)\n", prog, name, mli_reader_message(r));
			mli_tally_skip(&c->tally, "bad-frame", st->frames_skipped - skipped);
			mli_tally_skip(&c->tally, "bad-end-frame", st->bad_segments - bad_segments);
			skipped = st->frames_skipped;
			bad_segments = st->bad_segments;
		}
		c->tally.in++;
		records_here++;
		mli_reader_frame(r, &h, &stored);
		switch (o->mode) {
		case MODE_FRAMES:
			if (o->level) {
				if ((out_rc = mli_writer_begin(c->w, rec.type)) == 0
				    && (out_rc = mli_writer_fields(c->w, &rec)) == 0)
					out_rc = mli_writer_end(c->w);
			} else {
				out_rc = mli_writer_copy_frame(c->w, &h, stored);
			}
			if (out_rc < 0)
				program_output_failed(prog, out_rc);
			c->tally.out++;
			break;
		case MODE_LIST:
			list_record(&rec, &h);
			c->tally.out++;
			break;
		case MODE_JSON:
			json_record(&rec, &h, mli_reader_record_offset(r));
			c->tally.out++;
			break;
		case MODE_EXTRACT:
			if (extract_record(dirfd, &rec, o->extract_dir))
				c->tally.out++;
			else
				mli_tally_skip(&c->tally, "not-an-image", 1);
			break;
		case MODE_COUNT:
		case MODE_VERIFY:
			c->tally.out++;
			break;
		}
		if (ferror(stdout))
			program_output_failed(prog, MLI_ESYS);
		if (o->head >= 0 && c->tally.in >= (uint64_t)o->head)
			*stop = 1;
		mli_progress_update(&c->progress, c->tally.in, c->bytes_before + st->offset,
				    mli_tally_skipped(&c->tally));
	}
	if (*stop)
		rc = 0;
	c->bytes_before += st->offset;
	if (rc < 0) {
		mli_progress_end(&c->progress);
		fprintf(stderr, "%s: %s: %s\n", prog, name, mli_reader_message(r));
	} else if (o->mode == MODE_VERIFY) {
		printf("%s: ok, %llu records in %llu segments\n", name,
		       (unsigned long long)records_here, (unsigned long long)st->segments);
	}
	mli_reader_free(r);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static char *stdin_only[] = { "-" };
	struct options o;
	struct cat c;
	int dirfd = -1, stop = 0, rc;
	char **files;
	int n_files;

	program_init();
	parse_options(argc, argv, &o);
	memset(&c, 0, sizeof c);
	c.opt = &o;
	files = o.n_files ? o.files : stdin_only;
	n_files = o.n_files ? o.n_files : 1;

	if (o.mode == MODE_FRAMES) {
		struct mli_writer_options wo = { o.level };
		program_refuse_terminal(prog);
		if (!(c.w = mli_writer_open(STDOUT_FILENO, &wo))) {
			fprintf(stderr, "%s: %s\n", prog, mli_strerror(MLI_ENOMEM));
			return PROGRAM_EXIT_FAILURE;
		}
	}
	if (o.mode == MODE_EXTRACT) {
		if (mkdir(o.extract_dir, 0777) < 0 && errno != EEXIST) {
			fprintf(stderr, "%s: %s: %s\n", prog, o.extract_dir, strerror(errno));
			return PROGRAM_EXIT_FAILURE;
		}
		if ((dirfd = open(o.extract_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o.extract_dir, strerror(errno));
			return PROGRAM_EXIT_FAILURE;
		}
	}
	mli_progress_init(&c.progress, stderr, prog, "records",
			  mli_progress_wanted(o.progress_mode, STDERR_FILENO), program_input_size(o.files, o.n_files));

	for (int i = 0; i < n_files && !stop; i++) {
		const char *name;
		int fd = program_open_input(files[i], &name);

		if (fd < 0) {
			mli_progress_end(&c.progress);
			fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
			c.failed = 1;
			if (o.mode == MODE_FRAMES)
				break;
			continue;
		}
		if (cat_input(&c, name, fd, dirfd, &stop) < 0) {
			c.failed = 1;
			if (o.mode != MODE_VERIFY) {
				if (fd != STDIN_FILENO)
					close(fd);
				break;
			}
		}
		if (fd != STDIN_FILENO)
			close(fd);
	}
	mli_progress_end(&c.progress);

	if (c.w) {
		/* Without a fault, the output ends with an end frame; after one it
		 * keeps its whole frames but no end frame: it is truncated, as its
		 * input was. */
		rc = c.failed ? mli_writer_flush(c.w) : mli_writer_finish(c.w);
		if (rc < 0)
			program_output_failed(prog, rc);
		mli_writer_free(c.w);
	}
	if (o.mode == MODE_COUNT)
		printf("%llu\n", (unsigned long long)c.tally.in);
	if (dirfd >= 0)
		close(dirfd);
	program_close_stdout(prog);
	if (o.progress_mode != MLI_PROGRESS_OFF && (c.progress.enabled || mli_tally_skipped(&c.tally)))
		mli_tally_print(&c.tally, stderr, prog, mli_now() - c.progress.t0);
	return c.failed ? PROGRAM_EXIT_FAILURE : 0;
}

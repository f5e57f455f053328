/* fetch.c: the download engine (fetch.h).
 *
 * The pattern is libcurl's multi-socket one (curl's docs/examples/
 * multi-uv.c): curl calls socket_cb to say which events it wants on a
 * socket and timer_cb to say when it next needs a call; libuv's uv_poll
 * and uv_timer handles call curl_multi_socket_action() back. After every
 * action the finished transfers are collected, judged and either retried
 * (on their own uv_timer) or handed to the caller; then free slots are
 * filled from the caller's input. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "error.h"
#include "fetch.h"
#include "frame.h"
#include "io.h"
#include "sniff.h"

static const char *const class_names[MLI_FETCH_CLASSES] = {
	[MLI_FETCH_OK] = "ok",
	[MLI_FETCH_BAD_LINE] = "bad-line",
	[MLI_FETCH_BAD_URL] = "bad-url",
	[MLI_FETCH_DNS] = "dns",
	[MLI_FETCH_CONNECT] = "connect",
	[MLI_FETCH_TLS] = "tls",
	[MLI_FETCH_TIMEOUT] = "timeout",
	[MLI_FETCH_RESET] = "reset",
	[MLI_FETCH_PROTOCOL] = "protocol",
	[MLI_FETCH_HTTP_4XX] = "http-4xx",
	[MLI_FETCH_HTTP_429] = "http-429",
	[MLI_FETCH_HTTP_5XX] = "http-5xx",
	[MLI_FETCH_HTTP_OTHER] = "http-other",
	[MLI_FETCH_REDIRECT] = "redirect",
	[MLI_FETCH_TRUNCATED] = "truncated",
	[MLI_FETCH_TOO_LARGE] = "too-large",
	[MLI_FETCH_EMPTY] = "empty",
	[MLI_FETCH_NOT_IMAGE] = "not-image",
	[MLI_FETCH_PLACEHOLDER] = "placeholder",
	[MLI_FETCH_LOCAL_IO] = "local-io",
	[MLI_FETCH_OTHER] = "other",
};

const char *mli_fetch_class_name(int cls)
{
	return cls >= 0 && cls < MLI_FETCH_CLASSES ? class_names[cls] : NULL;
}

int mli_fetch_class_parse(const char *name, size_t len)
{
	for (int i = 0; i < MLI_FETCH_CLASSES; i++)
		if (strlen(class_names[i]) == len && memcmp(class_names[i], name, len) == 0)
			return i;
	return -1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mli_fetch_hash_line_parse(const char *line, size_t len, uint64_t *hash)
{
	static const char sep[] = ") = ";
	const char *p = line, *end = line + len;
	uint64_t v = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#' || *p == '\n' || *p == '\r')
		return 0;
	if ((size_t)(end - p) >= 6 && memcmp(p, "XXH3 (", 6) == 0) {
		/* The file name may hold anything: the last ") = " ends it. */
		const char *q = NULL;
		for (const char *s = p + 6; (size_t)(end - s) >= sizeof sep - 1; s++)
			if (memcmp(s, sep, sizeof sep - 1) == 0)
				q = s;
		if (!q)
			return MLI_EINVAL;
		p = q + sizeof sep - 1;
	} else if ((size_t)(end - p) >= 5 && memcmp(p, "XXH3_", 5) == 0) {
		p += 5;
	}
	if (end - p < 16)
		return MLI_EINVAL;
	for (int i = 0; i < 16; i++) {
		int d = hex_digit(p[i]);
		if (d < 0)
			return MLI_EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	p += 16;
	if (p < end && !strchr(" \t\r\n", *p))
		return MLI_EINVAL;
	*hash = v;
	return 1;
}

int mli_fetch_class_transient(int cls)
{
	switch (cls) {
	case MLI_FETCH_DNS:
	case MLI_FETCH_CONNECT:
	case MLI_FETCH_TIMEOUT:
	case MLI_FETCH_RESET:
	case MLI_FETCH_HTTP_429:
	case MLI_FETCH_HTTP_5XX:
	case MLI_FETCH_TRUNCATED:
		return 1;
	}
	return 0;
}

void mli_fetch_options_default(struct mli_fetch_options *o)
{
	memset(o, 0, sizeof *o);
	o->jobs = 64;
	o->per_host = 16;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 300000;
	o->low_speed_limit = 1024;
	o->low_speed_time = 30;
	o->max_bytes = (uint64_t)64 << 20;
	o->max_redirects = 5;
	o->retries = 3;
	o->backoff_ms = 1000;
	o->backoff_max_ms = 60000;
	o->host_failures = 10;
	o->user_agent = "mli-fetch";
}

/* A host with transfers alive, or failures lately: its attempts in
 * curl's hands (at most per_host), those waiting for one of them to end,
 * its failures in a row and its pause. An entry lives while a transfer
 * refers to it or it has failures, so the table stays as small as the
 * hosts in flight plus those in trouble. The engine queues attempts
 * itself rather than leave it to CURLMOPT_MAX_HOST_CONNECTIONS, because
 * curl counts the time an attempt waits in its queue against that
 * attempt's timeout. */
struct host {
	struct host *next;
	int refs;                /* transfers that refer to it */
	int running;             /* attempts added to the multi handle */
	struct xfer *queue;      /* attempts waiting for a slot, oldest first */
	struct xfer *queue_tail;
	int fails;               /* consecutive transient failures */
	double paused_until;     /* seconds on the monotonic clock */
	char name[];
};

#define HOST_BUCKETS 256

struct fetch;

struct xfer {
	struct fetch *f;
	struct xfer *prev, *next;  /* the live transfers, for cleaning up after a fault */
	CURL *easy;
	uv_timer_t timer;       /* waits before an attempt */
	char *key;              /* NUL-terminated copy of the request */
	size_t key_len;
	struct host *h;         /* its host (a reference), or NULL */
	struct xfer *queue_next;
	struct mli_label *labels;
	size_t n_labels;
	uint8_t *body;          /* len bytes received, cap allocated */
	size_t len, cap;
	int attempt;            /* attempts started */
	int too_large;          /* the write callback refused the body */
	int in_multi;
	char error[CURL_ERROR_SIZE];
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct fetch *f;
};

struct fetch {
	const struct mli_fetch_options *o;
	mli_fetch_next_fn next;
	mli_fetch_done_fn done;
	void *ctx;
	struct mli_fetch_stats *stats;
	uv_loop_t loop;
	uv_timer_t timeout;     /* curl's timer */
	CURLM *multi;
	CURLSH *share;
	int jobs;
	int alive;              /* transfers started and not yet handed back */
	int input_done;
	int closing;            /* the multi handle is being cleaned up */
	struct xfer *xfers;
	int rc;                 /* first fatal error; stops the run */
	const char *why;
	int err;                      /* errno at the fault, given back with MLI_ESYS */
	uint64_t rng;
	struct host *hosts[HOST_BUCKETS];
	uint8_t *local;         /* buffer for local files */
	size_t local_cap;
	/* Body buffers of finished transfers, for the next ones: a fresh
	 * buffer of a few hundred KB costs a page fault per 4 KB, which was
	 * the largest cost after the kernel's own copy. */
	struct pooled {
		uint8_t *p;
		size_t cap;
	} *pool;
	int n_pool;
	/* Easy handles of finished transfers, reset: each keeps its receive
	 * buffer, which is also a fresh allocation otherwise. */
	CURL **easies;
	int n_easies;
};

/* Buffers larger than this are freed rather than kept. */
#define POOL_BUF_MAX ((size_t)4 << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A uniform number in [0, 1) (xorshift64*; jitter needs no more). */
static double uniform(struct fetch *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (double)((f->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void fail(struct fetch *f, int rc, const char *why)
{
	if (f->rc == 0) {
		f->rc = rc;
		f->why = why;
		f->err = errno;
	}
}

/* ---- hosts ---- */

static unsigned host_bucket(const char *name)
{
	return (unsigned)(mli_hash(name, strlen(name)) % HOST_BUCKETS);
}

/* The entry of a host, created if need be, with a reference taken;
 * NULL when out of memory (the transfer then goes without). */
static struct host *host_get(struct fetch *f, const char *name)
{
	struct host **h = &f->hosts[host_bucket(name)];
	size_t n;

	while (*h && strcmp((*h)->name, name) != 0)
		h = &(*h)->next;
	if (!*h) {
		n = strlen(name) + 1;
		if (!(*h = calloc(1, sizeof **h + n)))
			return NULL;
		memcpy((*h)->name, name, n);
	}
	(*h)->refs++;
	return *h;
}

/* Drops a reference; frees an entry that nothing needs any more. */
static void host_put(struct fetch *f, struct host *gone)
{
	struct host **h;

	if (!gone || --gone->refs > 0 || gone->fails > 0)
		return;
	for (h = &f->hosts[host_bucket(gone->name)]; *h != gone; h = &(*h)->next)
		;
	*h = gone->next;
	free(gone);
}

/* Seconds to wait before starting a transfer to this host. */
static double host_wait(const struct host *h)
{
	double now;

	if (!h || h->paused_until == 0)
		return 0;
	now = now_s();
	return h->paused_until > now ? h->paused_until - now : 0;
}

static void host_success(struct host *h)
{
	if (h) {
		h->fails = 0;
		h->paused_until = 0;
	}
}

/* Counts a transient failure; from the host_failures-th in a row on, the
 * host is paused for a backoff that doubles with each further failure. */
static void host_failure(struct fetch *f, struct host *h)
{
	const struct mli_fetch_options *o = f->o;
	double pause;

	if (!h || o->host_failures <= 0 || ++h->fails < o->host_failures)
		return;
	pause = o->backoff_ms * ldexp(1.0, h->fails - o->host_failures);
	if (pause > o->backoff_max_ms)
		pause = o->backoff_max_ms;
	h->paused_until = now_s() + pause / 1000.0;
}

static void hosts_free(struct fetch *f)
{
	for (int i = 0; i < HOST_BUCKETS; i++)
		while (f->hosts[i]) {
			struct host *h = f->hosts[i];
			f->hosts[i] = h->next;
			free(h);
		}
}

/* ---- judging a body ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Checks a whole body; returns its class and sets *media, or fills
 * detail. */
static int judge_body(const struct mli_fetch_options *o, const uint8_t *p, size_t n,
		      const char *source, const char **media, char *detail, size_t dlen)
{
	struct mli_sniff s;

	for (size_t i = 0; source && i < o->n_reject_urls; i++)
		if (fnmatch(o->reject_urls[i], source, 0) == 0) {
			snprintf(detail, dlen, "final URL matches %s", o->reject_urls[i]);
			return MLI_FETCH_PLACEHOLDER;
		}
	mli_sniff(p, n, &s);
	switch (s.kind) {
	case MLI_SNIFF_EMPTY:
		snprintf(detail, dlen, "empty body");
		return MLI_FETCH_EMPTY;
	case MLI_SNIFF_MARKUP:
		snprintf(detail, dlen, "body is %s, %zu bytes", s.media, n);
		return MLI_FETCH_NOT_IMAGE;
	case MLI_SNIFF_UNKNOWN:
		snprintf(detail, dlen, "unknown content, first bytes %02x %02x %02x %02x", p[0],
			 n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
		return MLI_FETCH_NOT_IMAGE;
	case MLI_SNIFF_IMAGE:
		break;
	}
	if (!mli_sniff_complete(s.media, p, n)) {
		snprintf(detail, dlen, "%s of %zu bytes has no end marker", s.media, n);
		return MLI_FETCH_TRUNCATED;
	}
	if (o->n_reject_hashes) {
		uint64_t h = mli_hash(p, n);
		if (bsearch(&h, o->reject_hashes, o->n_reject_hashes, sizeof h, cmp_u64)) {
			snprintf(detail, dlen, "body hash %016llx is a placeholder", (unsigned long long)h);
			return MLI_FETCH_PLACEHOLDER;
		}
	}
	*media = s.media;
	return MLI_FETCH_OK;
}

/* ---- local files ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Whether the key names a local file, and which: a file:// URL (host
 * empty or "localhost", percent-escapes decoded) or a path, relative ones
 * under root. Returns 1 with path filled, 0 for a key with another scheme,
 * -1 for a malformed file:// URL or one too long. */
static int local_path(const char *key, const char *root, char *path, size_t len)
{
	const char *colon = strstr(key, "://");
	size_t n = 0;

	if (colon) {
		const char *p;
		if (colon - key != 4 || strncasecmp(key, "file", 4) != 0)
			return 0;
		p = colon + 3;
		if (strncasecmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return -1;
		for (; *p; p++) {
			char c = *p;
			if (c == '%') {
				int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
				if (lo < 0 || (hi == 0 && lo == 0))
					return -1;
				c = (char)(hi * 16 + lo);
				p += 2;
			}
			if (n + 1 >= len)
				return -1;
			path[n++] = c;
		}
		path[n] = '\0';
		return 1;
	}
	if (key[0] == '/' || !root)
		n = (size_t)snprintf(path, len, "%s", key);
	else
		n = (size_t)snprintf(path, len, "%s/%s", root, key);
	return n < len ? 1 : -1;
}

static int fetch_local(struct fetch *f, const char *key, size_t key_len, const struct mli_label *labels,
		       size_t n_labels)
{
	const struct mli_fetch_options *o = f->o;
	struct mli_fetch_result r = { key, key_len, labels, n_labels, MLI_FETCH_OK, "", NULL, 0,
				      NULL, NULL, 0, NULL, 1 };
	char path[4096], detail[4096 + 256];
	struct stat sb;
	int fd = -1, lp;
	ssize_t got = 0;

	detail[0] = '\0';
	lp = local_path(key, o->root, path, sizeof path);
	r.source = path;
	if (lp < 0) {
		r.cls = MLI_FETCH_BAD_URL;
		snprintf(detail, sizeof detail, "malformed or overlong file URL or path");
		r.source = NULL;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* Not the file's fault: the run stops, and the line has no
		 * outcome (a resumed run reads it again). */
		fail(f, MLI_ESYS, "out of file descriptors");
		return MLI_ESYS;
	} else if (fd < 0 || fstat(fd, &sb) < 0) {
		r.cls = MLI_FETCH_LOCAL_IO;
		snprintf(detail, sizeof detail, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode)) {
		r.cls = MLI_FETCH_LOCAL_IO;
		snprintf(detail, sizeof detail, "%s: not a regular file", path);
	} else if ((uint64_t)sb.st_size > o->max_bytes) {
		r.cls = MLI_FETCH_TOO_LARGE;
		snprintf(detail, sizeof detail, "%s: %lld bytes, over %llu", path, (long long)sb.st_size,
			 (unsigned long long)o->max_bytes);
	} else {
		size_t want = (size_t)sb.st_size + 1; /* one more shows a file that grew */
		if (want > f->local_cap) {
			uint8_t *nb = realloc(f->local, want);
			if (!nb) {
				close(fd);
				fail(f, MLI_ENOMEM, "local file buffer");
				return MLI_ENOMEM;
			}
			f->local = nb;
			f->local_cap = want;
		}
		if ((got = mli_read_full(fd, f->local, want)) < 0) {
			r.cls = MLI_FETCH_LOCAL_IO;
			snprintf(detail, sizeof detail, "%s: %s", path, strerror(errno));
		} else if ((size_t)got != (size_t)sb.st_size) {
			r.cls = MLI_FETCH_LOCAL_IO;
			snprintf(detail, sizeof detail, "%s: changed size while read", path);
		} else {
			r.cls = judge_body(o, f->local, (size_t)got, NULL, &r.media, detail, sizeof detail);
			r.body = f->local;
			r.body_len = (size_t)got;
		}
	}
	if (fd >= 0)
		close(fd);
	r.detail = detail;
	if (r.cls != MLI_FETCH_OK) {
		r.body = NULL;
		r.body_len = 0;
		r.media = NULL;
	}
	f->stats->requests++;
	f->stats->by_class[r.cls]++;
	if (r.cls == MLI_FETCH_OK) {
		f->stats->ok++;
		f->stats->bytes += r.body_len;
	} else {
		f->stats->failed++;
	}
	return f->done(f->ctx, &r);
}

/* ---- transfers ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	uint64_t max = x->f->o->max_bytes;

	if ((uint64_t)x->len + n > max) {
		x->too_large = 1;
		return 0;
	}
	if (x->len + n > x->cap) {
		struct fetch *f = x->f;
		curl_off_t declared = -1;
		size_t cap = x->cap ? x->cap : 64 * 1024;
		uint8_t *nb;

		if (!x->body && f->n_pool > 0) {
			f->n_pool--;
			x->body = f->pool[f->n_pool].p;
			x->cap = f->pool[f->n_pool].cap;
			if (x->len + n <= x->cap)
				goto copy;
			cap = x->cap;
		}

		/* Allocate a declared length at once (it is within max_bytes, or
		 * curl would have refused it); otherwise grow by doubling. */
		if (x->cap == 0 && curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared) == CURLE_OK
		    && declared > 0 && (uint64_t)declared <= max)
			cap = (size_t)declared;
		while (cap < x->len + n)
			cap *= 2;
		if ((uint64_t)cap > max)
			cap = (size_t)max;
		if (!(nb = realloc(x->body, cap)))
			return 0;
		x->body = nb;
		x->cap = cap;
	}
copy:
	memcpy(x->body + x->len, data, n);
	x->len += n;
	return n;
}

static void xfer_closed(uv_handle_t *h)
{
	struct xfer *x = h->data;

	free(x->key);
	free(x->labels);
	free(x->body);
	free(x);
}

static void xfer_free(struct xfer *x)
{
	struct fetch *f = x->f;

	if (x->body && x->cap <= POOL_BUF_MAX && f->pool && f->n_pool < f->jobs) {
		f->pool[f->n_pool].p = x->body;
		f->pool[f->n_pool].cap = x->cap;
		f->n_pool++;
		x->body = NULL;
	}
	if (x->prev)
		x->prev->next = x->next;
	else
		x->f->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->easy) {
		if (x->in_multi) {
			curl_multi_remove_handle(x->f->multi, x->easy);
			if (x->h)
				x->h->running--;
		}
		if (f->easies && f->n_easies < f->jobs && !f->closing) {
			curl_easy_reset(x->easy);
			f->easies[f->n_easies++] = x->easy;
		} else {
			curl_easy_cleanup(x->easy);
		}
		x->easy = NULL;
	}
	host_put(f, x->h);
	x->h = NULL;
	uv_close((uv_handle_t *)&x->timer, xfer_closed);
}

/* Hands an attempt to curl. */
static void begin_attempt(struct xfer *x)
{
	CURLMcode mc;

	x->attempt++;
	x->len = 0;
	x->too_large = 0;
	x->error[0] = '\0';
	if ((mc = curl_multi_add_handle(x->f->multi, x->easy)) != CURLM_OK) {
		fail(x->f, MLI_ENOMEM, curl_multi_strerror(mc));
		uv_stop(&x->f->loop);
		return;
	}
	x->in_multi = 1;
	if (x->h)
		x->h->running++;
}

/* Starts an attempt, or queues it behind its host's running ones. */
static void start_attempt(uv_timer_t *t)
{
	struct xfer *x = t->data;
	struct host *h = x->h;

	if (h && h->running >= x->f->o->per_host) {
		x->queue_next = NULL;
		if (h->queue_tail)
			h->queue_tail->queue_next = x;
		else
			h->queue = x;
		h->queue_tail = x;
		return;
	}
	begin_attempt(x);
}

/* An attempt has left curl: its host's next waiting one goes in. */
static void end_attempt(struct xfer *x)
{
	struct host *h = x->h;

	curl_multi_remove_handle(x->f->multi, x->easy);
	x->in_multi = 0;
	if (!h)
		return;
	h->running--;
	while (h->queue && h->running < x->f->o->per_host) {
		struct xfer *next = h->queue;
		h->queue = next->queue_next;
		if (!h->queue)
			h->queue_tail = NULL;
		begin_attempt(next);
	}
}

/* Starts an attempt after delay seconds, or at once. */
static void schedule(struct xfer *x, double delay)
{
	if (delay <= 0)
		start_attempt(&x->timer);
	else
		uv_timer_start(&x->timer, start_attempt, (uint64_t)(delay * 1000.0 + 0.5), 0);
}

/* The lower-case host of a URL, or NULL. */
static char *url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *copy = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
	    && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && (copy = strdup(host)))
		for (char *p = copy; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	curl_free(host);
	curl_url_cleanup(u);
	return copy;
}

static int xfer_new(struct fetch *f, const struct mli_fetch_request *req)
{
	const struct mli_fetch_options *o = f->o;
	struct xfer *x = calloc(1, sizeof *x);

	if (!x)
		goto nomem;
	x->f = f;
	x->timer.data = x;
	uv_timer_init(&f->loop, &x->timer);
	if (!(x->key = malloc(req->key_len + 1)))
		goto nomem_x;
	memcpy(x->key, req->key, req->key_len);
	x->key[req->key_len] = '\0';
	x->key_len = req->key_len;
	if (req->n_labels) {
		if (!(x->labels = malloc(req->n_labels * sizeof *x->labels)))
			goto nomem_x;
		memcpy(x->labels, req->labels, req->n_labels * sizeof *x->labels);
		x->n_labels = req->n_labels;
	}
	{
		char *name = url_host(x->key);
		x->h = name ? host_get(f, name) : NULL;
		free(name);
	}
	if (f->n_easies > 0)
		x->easy = f->easies[--f->n_easies];
	else if (!(x->easy = curl_easy_init()))
		goto nomem_x;
	curl_easy_setopt(x->easy, CURLOPT_URL, x->key);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->error);
	curl_easy_setopt(x->easy, CURLOPT_SHARE, f->share);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(x->easy, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	curl_easy_setopt(x->easy, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, o->low_speed_time);
	/* Refuses a declared length over the limit before any body arrives;
	 * write_cb enforces it on bodies without one. No Accept-Encoding is
	 * sent (CURLOPT_ACCEPT_ENCODING stays unset), so the bytes counted
	 * are the bytes stored. */
	curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* As curl's own tool: fewer, larger reads than the 16 KB default. */
	curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, 128L * 1024);
	x->next = f->xfers;
	if (f->xfers)
		f->xfers->prev = x;
	f->xfers = x;
	f->alive++;
	f->stats->requests++;
	schedule(x, host_wait(x->h));
	return 0;
nomem_x:
	if (x->easy)
		curl_easy_cleanup(x->easy);
	x->easy = NULL;
	uv_close((uv_handle_t *)&x->timer, xfer_closed);
nomem:
	fail(f, MLI_ENOMEM, "new transfer");
	return MLI_ENOMEM;
}

/* The class of a finished attempt, with detail filled. */
static int classify(struct xfer *x, CURLcode cc, long status, char *detail, size_t dlen)
{
	long redirects = 0;

	curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	snprintf(detail, dlen, "%s", x->error[0] ? x->error : curl_easy_strerror(cc));
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Only http and https URLs reach curl, so this is a redirect
		 * elsewhere, or a reply in HTTP/0.9 (no status line at all). */
		return redirects ? MLI_FETCH_REDIRECT : MLI_FETCH_PROTOCOL;
	case CURLE_URL_MALFORMAT:
		return MLI_FETCH_BAD_URL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return MLI_FETCH_DNS;
	case CURLE_COULDNT_CONNECT:
		return MLI_FETCH_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return MLI_FETCH_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return MLI_FETCH_TLS;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return MLI_FETCH_RESET;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return MLI_FETCH_PROTOCOL;
	case CURLE_TOO_MANY_REDIRECTS:
		return MLI_FETCH_REDIRECT;
	case CURLE_PARTIAL_FILE:
		return MLI_FETCH_TRUNCATED;
	case CURLE_FILESIZE_EXCEEDED:
		return MLI_FETCH_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		if (x->too_large) {
			snprintf(detail, dlen, "body over %llu bytes", (unsigned long long)x->f->o->max_bytes);
			return MLI_FETCH_TOO_LARGE;
		}
		return MLI_FETCH_OTHER;
	case CURLE_HTTP_RETURNED_ERROR:
		break;
	default:
		return MLI_FETCH_OTHER;
	}
	snprintf(detail, dlen, "HTTP %ld", status);
	if (status == 429)
		return MLI_FETCH_HTTP_429;
	if (status >= 400 && status < 500)
		return MLI_FETCH_HTTP_4XX;
	if (status >= 500 && status < 600)
		return MLI_FETCH_HTTP_5XX;
	if (status < 200 || status >= 300)
		return MLI_FETCH_HTTP_OTHER;
	return MLI_FETCH_OK;
}

/* Judges a finished attempt: retries it, or hands its outcome back. */
static void finish(struct fetch *f, struct xfer *x, CURLcode cc)
{
	const struct mli_fetch_options *o = f->o;
	struct mli_fetch_result r;
	char detail[CURL_ERROR_SIZE + 128];
	long status = 0;
	char *final_url = NULL, *ctype = NULL;
	curl_off_t declared = -1, retry_after = 0;
	long os_errno = 0;
	int cls;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	if (cc != CURLE_OK && (os_errno == EMFILE || os_errno == ENFILE)) {
		errno = (int)os_errno;
		fail(f, MLI_ESYS, "out of file descriptors");
		uv_stop(&f->loop);
		return;
	}
	cls = classify(x, cc, status, detail, sizeof detail);
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &final_url);
	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (cls == MLI_FETCH_OK && curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared) == CURLE_OK
	    && declared >= 0 && (uint64_t)declared != x->len) {
		snprintf(detail, sizeof detail, "%zu bytes of a declared %lld", x->len, (long long)declared);
		cls = MLI_FETCH_TRUNCATED;
	}
	memset(&r, 0, sizeof r);
	if (cls == MLI_FETCH_OK)
		cls = judge_body(o, x->body, x->len, final_url, &r.media, detail, sizeof detail);

	end_attempt(x);

	if (cls != MLI_FETCH_OK && mli_fetch_class_transient(cls)) {
		host_failure(f, x->h);
		if (x->attempt <= o->retries) {
			double delay = o->backoff_ms * ldexp(1.0, x->attempt - 1);
			if (delay > o->backoff_max_ms)
				delay = o->backoff_max_ms;
			delay = delay * (0.5 + 0.5 * uniform(f)) / 1000.0;
			curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
			if ((double)retry_after * 1000.0 > o->backoff_max_ms) {
				size_t l = strlen(detail);
				snprintf(detail + l, sizeof detail - l, ", Retry-After %lld s is too long",
					 (long long)retry_after);
			} else {
				double hw = host_wait(x->h);
				if ((double)retry_after > delay)
					delay = (double)retry_after;
				if (hw > delay)
					delay = hw;
				f->stats->retries++;
				schedule(x, delay);
				return;
			}
		}
	} else if (cls == MLI_FETCH_OK) {
		host_success(x->h);
	}

	r.key = x->key;
	r.key_len = x->key_len;
	r.labels = x->labels;
	r.n_labels = x->n_labels;
	r.cls = cls;
	r.detail = cls == MLI_FETCH_OK ? "" : detail;
	r.source = final_url ? final_url : x->key;
	r.status = status;
	r.content_type = ctype;
	r.attempts = x->attempt;
	if (cls == MLI_FETCH_OK) {
		r.body = x->body;
		r.body_len = x->len;
		f->stats->ok++;
		f->stats->bytes += x->len;
	} else {
		r.media = NULL;
		f->stats->failed++;
	}
	f->stats->by_class[cls]++;
	f->alive--;
	{
		int rc = f->done(f->ctx, &r);
		if (rc < 0) {
			fail(f, rc, NULL);
			uv_stop(&f->loop);
		}
	}
	xfer_free(x);
}

/* Pulls requests while there are free slots. */
static void fill(struct fetch *f)
{
	while (!f->input_done && f->rc == 0 && f->alive < f->jobs) {
		struct mli_fetch_request req;
		int rc = f->next(f->ctx, &req), lp;

		if (rc <= 0) {
			f->input_done = 1;
			if (rc < 0)
				fail(f, rc, NULL);
			break;
		}
		lp = strstr(req.key, "://") == NULL || strncasecmp(req.key, "file://", 7) == 0;
		if (lp) {
			if ((rc = fetch_local(f, req.key, req.key_len, req.labels, req.n_labels)) < 0)
				fail(f, rc, NULL);
		} else if (strncasecmp(req.key, "http://", 7) != 0 && strncasecmp(req.key, "https://", 8) != 0) {
			struct mli_fetch_result r = { req.key, req.key_len, req.labels, req.n_labels,
						      MLI_FETCH_BAD_URL, "scheme is not http, https or file",
						      NULL, 0, NULL, NULL, 0, NULL, 0 };
			f->stats->requests++;
			f->stats->failed++;
			f->stats->by_class[MLI_FETCH_BAD_URL]++;
			if ((rc = f->done(f->ctx, &r)) < 0)
				fail(f, rc, NULL);
		} else {
			xfer_new(f, &req);
		}
	}
	if (f->rc)
		uv_stop(&f->loop);
	else if (f->input_done && f->alive == 0)
		uv_stop(&f->loop);
}

static void check_done(struct fetch *f)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		struct xfer *x;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		finish(f, x, m->data.result);
		if (f->rc)
			return;
	}
	fill(f);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(s->f->multi, s->fd, flags, &running);
	check_done(s->f);
}

static void on_timeout(uv_timer_t *t)
{
	struct fetch *f = t->data;
	int running;

	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetch *f = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&f->timeout);
	else
		uv_timer_start(&f->timeout, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static void sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct fetch *f = userp;
	struct sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			if (!f->closing)
				curl_multi_assign(f->multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, sock_closed);
		}
		return 0;
	}
	if (!s) {
		if (!(s = calloc(1, sizeof *s))) {
			fail(f, MLI_ENOMEM, "socket watcher");
			return -1;
		}
		s->fd = fd;
		s->f = f;
		s->poll.data = s;
		if (uv_poll_init_socket(&f->loop, &s->poll, fd) < 0) {
			free(s);
			fail(f, MLI_ESYS, "uv_poll_init_socket");
			return -1;
		}
		curl_multi_assign(f->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

/* Concurrency that fits the descriptor limit: raises the soft limit to
 * the hard one, then leaves room for what is not a transfer (stdio, the
 * output and the failures file, libuv's epoll, signal and async
 * descriptors, libcurl's wake-up pair: FD_RESERVE in all) and gives each
 * transfer three: its socket or local file, its connection in the cache,
 * and the socket pair of libcurl's threaded resolver while a name is
 * looked up. (Reserving 64, as before, left one transfer under
 * `ulimit -n 64`.) */
#define FD_RESERVE 16
#define FD_PER_JOB 3
static int clamp_jobs(int jobs)
{
	struct rlimit rl;
	long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return jobs;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return jobs;
	room = ((long)rl.rlim_cur - FD_RESERVE) / FD_PER_JOB;
	if (room < 1)
		room = 1;
	return jobs > room ? (int)room : jobs;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_POLL ? sock_closed : NULL);
}

int mli_fetch_run(const struct mli_fetch_options *o, mli_fetch_next_fn next, mli_fetch_done_fn done,
		  void *ctx, struct mli_fetch_stats *stats, const char **why)
{
	struct fetch *f = calloc(1, sizeof *f);
	int rc, f_err = 0;

	*why = NULL;
	memset(stats, 0, sizeof *stats);
	if (!f)
		return MLI_ENOMEM;
	f->o = o;
	f->next = next;
	f->done = done;
	f->ctx = ctx;
	f->stats = stats;
	f->rng = o->seed | 1;
	f->jobs = clamp_jobs(o->jobs > 0 ? o->jobs : 1);
	stats->jobs = f->jobs;
	f->pool = calloc((size_t)f->jobs, sizeof *f->pool);
	f->easies = calloc((size_t)f->jobs, sizeof *f->easies);
	if (!f->pool || !f->easies) {
		free(f->pool);
		free(f->easies);
		free(f);
		return MLI_ENOMEM;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(f->pool);
		free(f->easies);
		free(f);
		*why = "curl_global_init";
		return MLI_EUNSUPPORTED;
	}
	if (uv_loop_init(&f->loop) < 0) {
		curl_global_cleanup();
		free(f->pool);
		free(f->easies);
		free(f);
		*why = "uv_loop_init";
		return MLI_ESYS;
	}
	uv_timer_init(&f->loop, &f->timeout);
	f->timeout.data = f;
	f->multi = curl_multi_init();
	f->share = curl_share_init();
	if (!f->multi || !f->share) {
		rc = MLI_EUNSUPPORTED;
		*why = "curl_multi_init";
		goto out;
	}
	/* One DNS cache for every transfer, as a shared handle, so that it
	 * outlives the connections that filled it. */
	curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->jobs);

	fill(f);
	if (f->rc == 0 && !(f->input_done && f->alive == 0))
		uv_run(&f->loop, UV_RUN_DEFAULT);
	rc = f->rc;
	*why = f->why;
	f_err = f->err;
	if (rc == 0 && f->alive) {
		rc = MLI_EINVAL;
		*why = "event loop ended with transfers alive";
	}
out:
	/* Transfers still alive (after a fatal error) are dropped: they
	 * have no outcome, and a resumed run will fetch them again. */
	while (f->xfers)
		xfer_free(f->xfers);
	f->closing = 1;
	while (f->n_easies > 0)
		curl_easy_cleanup(f->easies[--f->n_easies]);
	free(f->easies);
	curl_multi_cleanup(f->multi);
	curl_share_cleanup(f->share);
	uv_walk(&f->loop, close_walk, NULL);
	/* A uv_stop() left pending returns the first run at once. */
	while (uv_run(&f->loop, UV_RUN_DEFAULT) != 0)
		;
	uv_loop_close(&f->loop);
	hosts_free(f);
	while (f->n_pool > 0)
		free(f->pool[--f->n_pool].p);
	free(f->pool);
	free(f->local);
	free(f);
	curl_global_cleanup();
	if (rc == MLI_ESYS)
		errno = f_err;
	return rc;
}

/* fetch.h: the download engine behind mli-fetch.
 *
 * One libuv event loop drives libcurl's multi-socket interface: curl says
 * which sockets to watch and when its next timeout is due, and uv_poll and
 * uv_timer handles call it back. The engine pulls requests from its caller
 * one at a time, only while fewer than jobs transfers are alive (running,
 * or waiting to be retried), so memory is bounded whatever the length of
 * the list; it hands every outcome back through a callback, in order of
 * completion, and that callback may block (writing to a full pipe), which
 * pauses everything, input included.
 *
 * Local files (a path, or a file:// URL) are read at once, when pulled,
 * and need no slot. Every body, local or downloaded, goes through the same
 * checks: size, magic bytes (sniff.h), an end marker that shows the file
 * is whole, the final URL against placeholder patterns and the body's
 * XXH3-64 against a list of placeholder hashes.
 *
 * Failures fall into a fixed set of classes (enum mli_fetch_class); the
 * transient ones (network errors, timeouts, truncated bodies, 429, 5xx)
 * are retried with exponential backoff and jitter, never sooner than a
 * Retry-After header says, and a host that keeps failing is paused as a
 * whole. Running out of file descriptors stops the run with MLI_ESYS
 * rather than failing URLs that are not at fault. */
#ifndef MLI_FETCH_H
#define MLI_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum mli_fetch_class {
	MLI_FETCH_OK = 0,
	MLI_FETCH_BAD_LINE,     /* "bad-line": the list line does not parse (set by the caller) */
	MLI_FETCH_BAD_URL,      /* "bad-url": malformed URL or a scheme other than http, https, file */
	MLI_FETCH_DNS,          /* "dns": the host name does not resolve */
	MLI_FETCH_CONNECT,      /* "connect": refused or unreachable */
	MLI_FETCH_TLS,          /* "tls": handshake or certificate failure */
	MLI_FETCH_TIMEOUT,      /* "timeout": connect or total timeout, or too slow */
	MLI_FETCH_RESET,        /* "reset": connection reset or closed without a reply */
	MLI_FETCH_PROTOCOL,     /* "protocol": a reply that is not HTTP */
	MLI_FETCH_HTTP_4XX,     /* "http-4xx": 4xx other than 429 */
	MLI_FETCH_HTTP_429,     /* "http-429": too many requests */
	MLI_FETCH_HTTP_5XX,     /* "http-5xx" */
	MLI_FETCH_HTTP_OTHER,   /* "http-other": a final status other than 2xx, 4xx, 5xx */
	MLI_FETCH_REDIRECT,     /* "redirect": too many, or to a scheme other than http(s) */
	MLI_FETCH_TRUNCATED,    /* "truncated": fewer bytes than declared, or no end marker */
	MLI_FETCH_TOO_LARGE,    /* "too-large": over max_bytes, declared or received */
	MLI_FETCH_EMPTY,        /* "empty": a body of 0 bytes */
	MLI_FETCH_NOT_IMAGE,    /* "not-image": HTML or unknown bytes */
	MLI_FETCH_PLACEHOLDER,  /* "placeholder": a known "photo unavailable" image */
	MLI_FETCH_LOCAL_IO,     /* "local-io": a local file that cannot be read */
	MLI_FETCH_OTHER,        /* "other": any other libcurl error */
	MLI_FETCH_CLASSES
};

/* The class's name ("http-5xx"), or NULL when out of range. */
const char *mli_fetch_class_name(int cls);

/* The class named, or -1. */
int mli_fetch_class_parse(const char *name, size_t len);

/* Parses one line (len bytes, '\n' or not) of a --reject-hash file: 16
 * hexadecimal digits, bare or as xxhsum -H3 prints them ("XXH3 (FILE) =
 * HASH"; "XXH3_HASH  FILE" from older versions), then white space or the
 * end. Returns 1 with *hash set, 0 for a line to skip (blank, or starting
 * with '#'), or MLI_EINVAL. */
int mli_fetch_hash_line_parse(const char *line, size_t len, uint64_t *hash);

/* Whether failures of this class are worth retrying. */
int mli_fetch_class_transient(int cls);

struct mli_fetch_options {
	int jobs;                 /* transfers alive at once; clamped below the fd limit */
	int per_host;             /* attempts to one host at once; more wait their turn */
	long connect_timeout_ms;
	long timeout_ms;          /* whole transfer */
	long low_speed_limit;     /* bytes/s; slower for low_speed_time s is a timeout */
	long low_speed_time;
	uint64_t max_bytes;       /* largest body accepted */
	int max_redirects;
	int retries;              /* further attempts after a transient failure */
	double backoff_ms;        /* delay before the first retry; doubled each time */
	double backoff_max_ms;    /* longest delay; a longer Retry-After is a failure */
	int host_failures;        /* consecutive transient failures that pause a host */
	const char *root;         /* directory of relative paths; NULL: the working directory */
	const char *user_agent;
	const uint64_t *reject_hashes;  /* sorted XXH3-64 of placeholder bodies */
	size_t n_reject_hashes;
	const char *const *reject_urls; /* fnmatch(3) patterns of placeholder final URLs */
	size_t n_reject_urls;
	uint64_t seed;            /* of the backoff jitter */
};

/* Fills o with the defaults documented in mli-fetch(1). */
void mli_fetch_options_default(struct mli_fetch_options *o);

struct mli_fetch_request {
	const char *key;                 /* a URL, file:// URL or path, key_len bytes
					  * and a NUL; copied */
	size_t key_len;
	const struct mli_label *labels;  /* copied */
	size_t n_labels;
};

struct mli_fetch_result {
	const char *key;                 /* as requested, NUL-terminated */
	size_t key_len;
	const struct mli_label *labels;
	size_t n_labels;
	int cls;                         /* MLI_FETCH_OK or the failure's class */
	const char *detail;              /* for a failure: what happened, one line */
	const uint8_t *body;             /* for a success: the bytes */
	size_t body_len;
	const char *media;               /* for a success: the sniffed media type */
	const char *source;              /* final URL after redirects, or the path read */
	long status;                     /* last HTTP status; 0 for local files or none */
	const char *content_type;        /* the server's Content-Type, or NULL */
	int attempts;
};

/* Gives the next request: returns 1 with *req filled (valid until the
 * next call), 0 at the end of the input, or a negative error that stops
 * the run. */
typedef int (*mli_fetch_next_fn)(void *ctx, struct mli_fetch_request *req);

/* Takes one outcome (valid during the call only); a negative return stops
 * the run with that error. */
typedef int (*mli_fetch_done_fn)(void *ctx, const struct mli_fetch_result *res);

struct mli_fetch_stats {
	uint64_t requests, ok, failed, retries, bytes;
	uint64_t by_class[MLI_FETCH_CLASSES];
	int jobs;                 /* the concurrency used, after clamping */
};

/* Runs until every request pulled has an outcome, or a callback or the
 * engine fails. Returns 0, a callback's negative error, MLI_ENOMEM,
 * MLI_ESYS (errno set; also when descriptors run out) or
 * MLI_EUNSUPPORTED (libcurl could not be set up), with *why naming what
 * failed when it is the engine's own error. */
int mli_fetch_run(const struct mli_fetch_options *o, mli_fetch_next_fn next, mli_fetch_done_fn done,
		  void *ctx, struct mli_fetch_stats *stats, const char **why);

#endif

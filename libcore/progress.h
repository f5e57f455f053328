/* progress.h: the progress line and the closing summary on stderr.
 *
 * A program owns its struct mli_progress and passes the stream to draw on
 * (stderr); libcore draws only when asked to. */
#ifndef MLI_PROGRESS_H
#define MLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct mli_progress {
	FILE *out;
	const char *prog;
	const char *unit;     /* what is counted, plural: "records" */
	int enabled;
	uint64_t total_bytes; /* input size when known (regular files), else 0 */
	double t0, last;      /* start and last redraw, seconds */
	int drawn;            /* a line is on screen and must be ended */
};

#define MLI_SKIP_REASONS_MAX 16

/* Records in, out and skipped by reason, for the closing summary. */
struct mli_tally {
	uint64_t in, out;
	size_t n_reasons;
	struct {
		const char *reason;  /* a static string, e.g. "bad-frame" */
		uint64_t count;
	} skipped[MLI_SKIP_REASONS_MAX];
};

/* Seconds on a monotonic clock. */
double mli_now(void);

void mli_progress_init(struct mli_progress *p, FILE *out, const char *prog,
		       const char *unit, int enabled, uint64_t total_bytes);

/* Redraws the line if at least a fifth of a second has passed: count,
 * rate, bytes, errors and, when the total is known, percent and ETA. */
void mli_progress_update(struct mli_progress *p, uint64_t count, uint64_t bytes, uint64_t errors);

/* Ends the progress line so that later messages start on a fresh line. */
void mli_progress_end(struct mli_progress *p);

/* Counts n skipped records under a reason (nothing when n is 0). */
void mli_tally_skip(struct mli_tally *t, const char *reason, uint64_t n);

uint64_t mli_tally_skipped(const struct mli_tally *t);

/* "PROG: 10 in, 8 out, 2 skipped (1 bad-frame, 1 not-an-image), 1.2 s" */
void mli_tally_print(const struct mli_tally *t, FILE *out, const char *prog, double seconds);

#endif

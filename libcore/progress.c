/* progress.c: progress line and summary. */
#include <string.h>
#include <time.h>

#include "progress.h"

double mli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mli_progress_init(struct mli_progress *p, FILE *out, const char *prog,
		       const char *unit, int enabled, uint64_t total_bytes)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	p->prog = prog;
	p->unit = unit;
	p->enabled = enabled;
	p->total_bytes = total_bytes;
	p->t0 = p->last = mli_now();
}

static void human_bytes(char *buf, size_t len, double b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (b >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

void mli_progress_update(struct mli_progress *p, uint64_t count, uint64_t bytes, uint64_t errors)
{
	double now, elapsed;
	char done[32], eta[48] = "";

	if (!p->enabled)
		return;
	now = mli_now();
	if (now - p->last < 0.2)
		return;
	p->last = now;
	elapsed = now - p->t0 > 1e-9 ? now - p->t0 : 1e-9;
	human_bytes(done, sizeof done, (double)bytes);
	if (p->total_bytes && bytes <= p->total_bytes && bytes > 0) {
		double left = elapsed * (double)(p->total_bytes - bytes) / (double)bytes;
		snprintf(eta, sizeof eta, "  %3.0f%%  ETA %d:%02d",
			 100.0 * (double)bytes / (double)p->total_bytes, (int)left / 60, (int)left % 60);
	}
	fprintf(p->out, "\r%s: %llu %s  %.0f/s  %s  %llu errors%s\033[K", p->prog,
		(unsigned long long)count, p->unit, (double)count / elapsed, done,
		(unsigned long long)errors, eta);
	fflush(p->out);
	p->drawn = 1;
}

void mli_progress_end(struct mli_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	p->drawn = 0;
}

void mli_tally_skip(struct mli_tally *t, const char *reason, uint64_t n)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < t->n_reasons; i++)
		if (strcmp(t->skipped[i].reason, reason) == 0)
			break;
	if (i == t->n_reasons) {
		if (i == MLI_SKIP_REASONS_MAX) {
			i--; /* the last slot gathers whatever does not fit */
			reason = "other";
		} else {
			t->n_reasons++;
		}
		t->skipped[i].reason = reason;
	}
	t->skipped[i].count += n;
}

uint64_t mli_tally_skipped(const struct mli_tally *t)
{
	uint64_t n = 0;

	for (size_t i = 0; i < t->n_reasons; i++)
		n += t->skipped[i].count;
	return n;
}

void mli_tally_print(const struct mli_tally *t, FILE *out, const char *prog, double seconds)
{
	fprintf(out, "%s: %llu in, %llu out, %llu skipped", prog, (unsigned long long)t->in,
		(unsigned long long)t->out, (unsigned long long)mli_tally_skipped(t));
	for (size_t i = 0; i < t->n_reasons; i++)
		fprintf(out, "%s%llu %s", i ? ", " : " (", (unsigned long long)t->skipped[i].count,
			t->skipped[i].reason);
	fprintf(out, "%s, %.1f s\n", t->n_reasons ? ")" : "", seconds);
}

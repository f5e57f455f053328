/* random.h: counter-based random numbers keyed by a record's identity.
 *
 * A stream is a 64-bit key and a counter; the n-th number of a stream is
 * a fixed function of (key, n) (the SplitMix64 output mix of key + n times
 * the golden ratio), so it does not depend on what any other stream did,
 * on which thread draws it, or on the order records arrive in. The key of
 * a record's stream is derived from the run's seed, the record's key bytes
 * (hashed with XXH3-64) and the epoch: the same three give the same
 * numbers on every run, and changing any one gives unrelated ones.
 *
 * Not for cryptography. */
#ifndef MLI_RANDOM_H
#define MLI_RANDOM_H

#include <stddef.h>
#include <stdint.h>

struct mli_rng {
	uint64_t key;
	uint64_t counter;
};

/* The stream of (seed, id[0..id_len), epoch). id may be NULL when id_len
 * is 0 (a stream of the run as a whole, as a shuffle buffer uses). */
void mli_rng_init(struct mli_rng *r, uint64_t seed, const void *id, size_t id_len, uint64_t epoch);

/* The next 64 random bits. */
uint64_t mli_rng_next(struct mli_rng *r);

/* Uniform in [0, 1), 53 bits. */
double mli_rng_uniform(struct mli_rng *r);

/* Uniform in [lo, hi) (lo when lo == hi). */
double mli_rng_range(struct mli_rng *r, double lo, double hi);

/* Uniform integer in [0, n), without bias; 0 when n is 0. */
uint64_t mli_rng_below(struct mli_rng *r, uint64_t n);

#endif

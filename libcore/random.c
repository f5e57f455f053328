/* random.c: counter-based random numbers (random.h). */
#include "random.h"

#include <xxhash.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* The SplitMix64 finaliser: a bijection of 64-bit words whose outputs for
 * consecutive inputs pass BigCrush. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void mli_rng_init(struct mli_rng *r, uint64_t seed, const void *id, size_t id_len, uint64_t epoch)
{
	uint64_t h = XXH3_64bits_withSeed(id_len ? id : "", id_len, seed);

	/* Epoch and identity go through separate mixes so that (id, epoch)
	 * pairs do not collide by simple addition. */
	r->key = mix(h ^ mix(epoch * GOLDEN + UINT64_C(0x632be59bd9b4e019)));
	r->counter = 0;
}

uint64_t mli_rng_next(struct mli_rng *r)
{
	return mix(r->key + ++r->counter * GOLDEN);
}

double mli_rng_uniform(struct mli_rng *r)
{
	return (double)(mli_rng_next(r) >> 11) * 0x1.0p-53;
}

double mli_rng_range(struct mli_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * mli_rng_uniform(r);
}

uint64_t mli_rng_below(struct mli_rng *r, uint64_t n)
{
	uint64_t x, threshold;

	if (n == 0)
		return 0;
	/* Rejects the low values that would make some residues more likely
	 * than others. */
	threshold = -n % n;
	do
		x = mli_rng_next(r);
	while (x < threshold);
	return x % n;
}

/* keyset.h: a set of record keys, held as their 64-bit hashes.
 *
 * mli-fetch remembers which keys an earlier run already wrote (to resume)
 * or failed (to retry): millions of URLs, so it keeps 8 bytes per key, the
 * XXH3-64 of its bytes, in an open-addressing table. Two different keys
 * share a hash with probability about n^2 / 2^65 (1 in 100,000 for the
 * 17.6 million keys of the full list), and would then be taken as one. */
#ifndef MLI_KEYSET_H
#define MLI_KEYSET_H

#include <stddef.h>
#include <stdint.h>

struct mli_keyset {
	uint64_t *slots;  /* cap slots; 0 is empty (a key hashing to 0 is stored as 1) */
	size_t cap, n;
};

void mli_keyset_init(struct mli_keyset *s);
void mli_keyset_free(struct mli_keyset *s);

/* Adds a key. Returns 1 when added, 0 when already there, or MLI_ENOMEM. */
int mli_keyset_add(struct mli_keyset *s, const void *key, size_t len);

/* Whether the key is in the set: 1 or 0. */
int mli_keyset_has(const struct mli_keyset *s, const void *key, size_t len);

#endif

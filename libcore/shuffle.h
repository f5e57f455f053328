/* shuffle.h: a shuffle buffer over an unbounded stream.
 *
 * The buffer holds up to `capacity` items (opaque pointers it does not
 * own). While it is filling, mli_shuffle_push() keeps each item; once it
 * is full, each new item takes the place of one drawn uniformly from the
 * buffer, which is given back to be written out. At the end of the input,
 * mli_shuffle_pop() gives back what remains in a uniformly random order.
 * The same seed, epoch and input order give the same output order.
 *
 * What comes out is a permutation of what went in. No item comes out
 * before the items more than `capacity` places ahead of it in the input
 * have been read: an item read at index i (from 0) is written at an index
 * of at least i - capacity. (It may come out arbitrarily later, as with
 * any shuffle buffer; the delay is geometric with mean `capacity`.) */
#ifndef MLI_SHUFFLE_H
#define MLI_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

struct mli_shuffle;

/* A buffer of capacity items (at least 1) whose draws come from (seed,
 * epoch). Returns 0, MLI_EINVAL or MLI_ENOMEM. */
int mli_shuffle_create(struct mli_shuffle **s, size_t capacity, uint64_t seed, uint64_t epoch);

void mli_shuffle_free(struct mli_shuffle *s);

/* Puts item in. Returns 1 and sets *out to the item to write out when the
 * buffer was full, else 0. */
int mli_shuffle_push(struct mli_shuffle *s, void *item, void **out);

/* Takes out a random remaining item: returns 1 and sets *out, or 0 when
 * the buffer is empty. */
int mli_shuffle_pop(struct mli_shuffle *s, void **out);

/* Items held. */
size_t mli_shuffle_count(const struct mli_shuffle *s);

#endif

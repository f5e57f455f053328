/* shuffle.c: the shuffle buffer (shuffle.h). */
#include "shuffle.h"

#include <stdlib.h>

#include "error.h"
#include "random.h"

struct mli_shuffle {
	size_t capacity, n;
	struct mli_rng rng;
	void **items;   /* [capacity], the first n in use */
};

int mli_shuffle_create(struct mli_shuffle **sp, size_t capacity, uint64_t seed, uint64_t epoch)
{
	struct mli_shuffle *s;

	*sp = NULL;
	if (capacity < 1 || capacity > SIZE_MAX / sizeof(void *))
		return MLI_EINVAL;
	if (!(s = calloc(1, sizeof *s)))
		return MLI_ENOMEM;
	if (!(s->items = malloc(capacity * sizeof *s->items))) {
		free(s);
		return MLI_ENOMEM;
	}
	s->capacity = capacity;
	/* A stream of its own, apart from every record's: the id is a name
	 * no record key is likely to have. */
	mli_rng_init(&s->rng, seed, "\x01shuffle", 8, epoch);
	*sp = s;
	return 0;
}

void mli_shuffle_free(struct mli_shuffle *s)
{
	if (!s)
		return;
	free(s->items);
	free(s);
}

int mli_shuffle_push(struct mli_shuffle *s, void *item, void **out)
{
	size_t j;

	if (s->n < s->capacity) {
		s->items[s->n++] = item;
		return 0;
	}
	j = (size_t)mli_rng_below(&s->rng, s->capacity);
	*out = s->items[j];
	s->items[j] = item;
	return 1;
}

int mli_shuffle_pop(struct mli_shuffle *s, void **out)
{
	size_t j;

	if (s->n == 0)
		return 0;
	j = (size_t)mli_rng_below(&s->rng, s->n);
	*out = s->items[j];
	s->items[j] = s->items[--s->n];
	return 1;
}

size_t mli_shuffle_count(const struct mli_shuffle *s)
{
	return s->n;
}

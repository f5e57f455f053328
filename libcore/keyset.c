/* keyset.c: the key set (keyset.h): linear probing, kept at most half
 * full. */
#include <stdlib.h>

#include "error.h"
#include "frame.h"
#include "keyset.h"

static uint64_t key_hash(const void *key, size_t len)
{
	uint64_t h = mli_hash(key, len);

	return h ? h : 1;
}

void mli_keyset_init(struct mli_keyset *s)
{
	s->slots = NULL;
	s->cap = s->n = 0;
}

void mli_keyset_free(struct mli_keyset *s)
{
	free(s->slots);
	mli_keyset_init(s);
}

static size_t find(const uint64_t *slots, size_t cap, uint64_t h)
{
	size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);

	while (slots[i] && slots[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

int mli_keyset_add(struct mli_keyset *s, const void *key, size_t len)
{
	uint64_t h = key_hash(key, len);
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *slots = calloc(cap, sizeof *slots);
		if (!slots)
			return MLI_ENOMEM;
		for (size_t j = 0; j < s->cap; j++)
			if (s->slots[j])
				slots[find(slots, cap, s->slots[j])] = s->slots[j];
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	i = find(s->slots, s->cap, h);
	if (s->slots[i])
		return 0;
	s->slots[i] = h;
	s->n++;
	return 1;
}

int mli_keyset_has(const struct mli_keyset *s, const void *key, size_t len)
{
	return s->cap && s->slots[find(s->slots, s->cap, key_hash(key, len))] != 0;
}

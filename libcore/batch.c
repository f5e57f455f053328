/* batch.c: gathering images into BATCH records (batch.h). */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

struct mli_batch {
	struct mli_batch_options opt;
	uint32_t shape[3];        /* [height, width, channels]; 0s until the first image */
	size_t image_elems;       /* height * width * channels */
	size_t n;
	uint8_t *input;           /* [size, channels, height, width] of opt.dtype */
	float *target;            /* [size, classes] */
	uint32_t *views;          /* [size] */
	int any_view;
	char *keys;               /* NUL-terminated keys, keys_len bytes */
	size_t keys_len, keys_cap;
	uint32_t *label_counts;   /* [size] */
	struct mli_label *labels; /* n_labels pairs, in image order */
	size_t n_labels, labels_cap;
};

int mli_batch_create(struct mli_batch **bp, const struct mli_batch_options *opt)
{
	struct mli_batch *b;

	*bp = NULL;
	if (opt->size < 1 || (opt->dtype != MLI_DTYPE_U8 && opt->dtype != MLI_DTYPE_F32))
		return MLI_EINVAL;
	if (!(b = calloc(1, sizeof *b)))
		return MLI_ENOMEM;
	b->opt = *opt;
	b->views = calloc(opt->size, sizeof *b->views);
	b->label_counts = calloc(opt->size, sizeof *b->label_counts);
	if (opt->classes)
		b->target = malloc((size_t)opt->size * opt->classes * sizeof *b->target);
	if (!b->views || !b->label_counts || (opt->classes && !b->target)) {
		mli_batch_free(b);
		return MLI_ENOMEM;
	}
	*bp = b;
	return 0;
}

void mli_batch_free(struct mli_batch *b)
{
	if (!b)
		return;
	free(b->input);
	free(b->target);
	free(b->views);
	free(b->keys);
	free(b->label_counts);
	free(b->labels);
	free(b);
}

size_t mli_batch_count(const struct mli_batch *b)
{
	return b->n;
}

const uint32_t *mli_batch_shape(const struct mli_batch *b)
{
	return b->shape[0] ? b->shape : NULL;
}

int mli_labels_dense(const struct mli_label *labels, size_t n, uint32_t classes, int binarise,
		     float threshold, float *row, uint32_t *bad_class)
{
	memset(row, 0, (size_t)classes * sizeof *row);
	for (size_t i = 0; i < n; i++) {
		float c = labels[i].conf;
		if (labels[i].cls >= classes) {
			*bad_class = labels[i].cls;
			return MLI_ERANGE;
		}
		if (binarise && c != -1.0f)
			c = c >= threshold ? 1.0f : 0.0f;
		row[labels[i].cls] = c;
	}
	return 0;
}

/* Sets the geometry from the first image and allocates INPUT for it. */
static int set_shape(struct mli_batch *b, const uint32_t dims[3])
{
	size_t elems = (size_t)dims[0] * dims[1] * dims[2];
	size_t esize = b->opt.dtype == MLI_DTYPE_F32 ? 4 : 1;

	if (!dims[0] || !dims[1] || !dims[2] || elems > SIZE_MAX / esize / b->opt.size)
		return MLI_EINVAL;
	if (!(b->input = malloc(elems * esize * b->opt.size)))
		return MLI_ENOMEM;
	memcpy(b->shape, dims, sizeof b->shape);
	b->image_elems = elems;
	return 0;
}

/* Transposes one image [h, w, c] into [c, h, w] of the batch's dtype. */
static void put_pixels(struct mli_batch *b, const uint8_t *px)
{
	uint32_t h = b->shape[0], w = b->shape[1], c = b->shape[2];
	size_t plane = (size_t)h * w;

	if (b->opt.dtype == MLI_DTYPE_U8) {
		uint8_t *dst = b->input + b->n * b->image_elems;
		if (c == 1) {
			memcpy(dst, px, plane);
			return;
		}
		for (uint32_t k = 0; k < c; k++)
			for (size_t i = 0; i < plane; i++)
				dst[k * plane + i] = px[i * c + k];
	} else {
		float *dst = (float *)b->input + b->n * b->image_elems;
		for (uint32_t k = 0; k < c; k++)
			for (size_t i = 0; i < plane; i++)
				dst[k * plane + i] = (float)px[i * c + k] * (2.0f / 255.0f) - 1.0f;
	}
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (!(q = realloc(*p, n * elem)))
		return MLI_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int mli_batch_add(struct mli_batch *b, const char *key, size_t key_len,
		  const struct mli_label *labels, size_t n_labels, uint32_t view,
		  const uint8_t *pixels, const uint32_t dims[3], uint32_t *bad_class)
{
	int rc;

	if (b->n >= b->opt.size)
		return MLI_EINVAL;
	if (!b->shape[0]) {
		if ((rc = set_shape(b, dims)) < 0)
			return rc;
	} else if (memcmp(dims, b->shape, sizeof b->shape) != 0) {
		return MLI_EINVAL;
	}
	if (b->opt.classes
	    && (rc = mli_labels_dense(labels, n_labels, b->opt.classes, b->opt.binarise,
				      b->opt.threshold, b->target + b->n * b->opt.classes, bad_class)) < 0)
		return rc;
	if ((rc = grow((void **)&b->keys, &b->keys_cap, b->keys_len + key_len + 1, 1)) < 0
	    || (rc = grow((void **)&b->labels, &b->labels_cap, b->n_labels + n_labels,
			  sizeof *b->labels)) < 0)
		return rc;
	memcpy(b->keys + b->keys_len, key, key_len);
	b->keys[b->keys_len + key_len] = '\0';
	b->keys_len += key_len + 1;
	if (n_labels)
		memcpy(b->labels + b->n_labels, labels, n_labels * sizeof *labels);
	b->n_labels += n_labels;
	b->label_counts[b->n] = (uint32_t)n_labels;
	b->views[b->n] = view;
	if (view != MLI_VIEW_NONE)
		b->any_view = 1;
	put_pixels(b, pixels);
	return (int)++b->n;
}

int mli_batch_write(struct mli_batch *b, struct mli_writer *w, const char *key, size_t key_len)
{
	uint32_t n = (uint32_t)b->n;
	uint32_t dims[4] = { n, b->shape[2], b->shape[0], b->shape[1] };
	size_t esize = b->opt.dtype == MLI_DTYPE_F32 ? 4 : 1;
	uint8_t *bl;
	void *data;
	int rc;

	if (!n)
		return MLI_EINVAL;
	if ((rc = mli_writer_begin(w, MLI_TYPE_BATCH)) < 0
	    || (rc = mli_writer_key(w, key, key_len)) < 0
	    || (rc = mli_writer_tensor_reserve(w, MLI_TAG_INPUT, b->opt.dtype, 4, dims, &data)) < 0)
		return rc;
	memcpy(data, b->input, n * b->image_elems * esize);
	if (b->opt.classes) {
		uint32_t tdims[2] = { n, b->opt.classes };
		if ((rc = mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tdims, &data)) < 0)
			return rc;
		memcpy(data, b->target, (size_t)n * b->opt.classes * sizeof(float));
	}
	if ((rc = mli_writer_field(w, MLI_TAG_KEYS, b->keys, b->keys_len)) < 0
	    || (rc = mli_writer_field_reserve(w, MLI_TAG_BATCH_LABELS,
					      n * 4 + b->n_labels * sizeof(struct mli_label),
					      (void **)&bl)) < 0)
		return rc;
	memcpy(bl, b->label_counts, (size_t)n * 4);
	if (b->n_labels)
		memcpy(bl + (size_t)n * 4, b->labels, b->n_labels * sizeof(struct mli_label));
	if (b->any_view && (rc = mli_writer_field(w, MLI_TAG_VIEWS, b->views, (size_t)n * 4)) < 0)
		return rc;
	if ((rc = mli_writer_end(w)) < 0)
		return rc;
	b->n = 0;
	b->keys_len = 0;
	b->n_labels = 0;
	b->any_view = 0;
	return 0;
}

int mli_dictionary_classes(const char *text, size_t len, uint32_t *classes)
{
	uint64_t best = 0;
	int found = 0;
	size_t i = 0;

	while (i < len) {
		uint64_t v = 0;
		size_t start = i;
		while (i < len && text[i] >= '0' && text[i] <= '9' && v < UINT32_MAX)
			v = v * 10 + (uint64_t)(text[i++] - '0');
		if (i > start && v < UINT32_MAX && (i == len || text[i] == '\t' || text[i] == ' '
						    || text[i] == '\n' || text[i] == '\r')) {
			found = 1;
			if (v + 1 > best)
				best = v + 1;
		}
		while (i < len && text[i] != '\n')
			i++;
		i++;
	}
	if (!found)
		return MLI_EINVAL;
	*classes = (uint32_t)best;
	return 0;
}

/* record.c: parsing and checking record payloads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"
#include "record.h"

#define PAD8(n) (((n) + 7) & ~(size_t)7)

size_t mli_dtype_size(int dtype)
{
	switch (dtype) {
	case MLI_DTYPE_U8: return 1;
	case MLI_DTYPE_F32: return 4;
	case MLI_DTYPE_I32: return 4;
	case MLI_DTYPE_F16: return 2;
	}
	return 0;
}

size_t mli_tensor_header_size(int ndim)
{
	return PAD8(4 + 4 * (size_t)ndim);
}

const char *mli_tag_name(uint32_t tag)
{
	static const char *const names[] = {
		[MLI_TAG_KEY] = "KEY", [MLI_TAG_LABELS] = "LABELS",
		[MLI_TAG_BLOB] = "BLOB", [MLI_TAG_MEDIA] = "MEDIA",
		[MLI_TAG_SOURCE] = "SOURCE", [MLI_TAG_PIXELS] = "PIXELS",
		[MLI_TAG_INPUT] = "INPUT", [MLI_TAG_TARGET] = "TARGET",
		[MLI_TAG_KEYS] = "KEYS", [MLI_TAG_BATCH_LABELS] = "BATCH_LABELS",
		[MLI_TAG_COUNT] = "COUNT", [MLI_TAG_BYTES] = "BYTES",
		[MLI_TAG_DIGEST] = "DIGEST",
		[MLI_TAG_HTTP_STATUS] = "HTTP_STATUS",
		[MLI_TAG_CONTENT_TYPE] = "CONTENT_TYPE",
		[MLI_TAG_VIEW] = "VIEW", [MLI_TAG_VIEWS] = "VIEWS",
		[MLI_TAG_WIDTH] = "WIDTH", [MLI_TAG_HEIGHT] = "HEIGHT",
		[MLI_TAG_FEATURE] = "FEATURE",
	};

	if (tag >= sizeof names / sizeof names[0])
		return NULL;
	return names[tag];
}

/* Checks dims and returns the element bytes in *data_size; the product is
 * checked against overflow at every step. */
static int tensor_size(int dtype, int ndim, const uint32_t *dims, size_t *count, size_t *data_size)
{
	size_t esize = mli_dtype_size(dtype);
	uint64_t n = 1;

	if (esize == 0 || ndim < 1 || ndim > MLI_TENSOR_NDIM_MAX)
		return MLI_EINVAL;
	for (int i = 0; i < ndim; i++) {
		if (dims[i] == 0)
			return MLI_EINVAL;
		n *= dims[i];
		if (n > UINT32_MAX)
			return MLI_ERANGE;
	}
	*count = (size_t)n;
	*data_size = (size_t)n * esize;
	return 0;
}

int mli_tensor_header(int dtype, int ndim, const uint32_t *dims, uint8_t *out, size_t *data_size)
{
	size_t count, hsize = mli_tensor_header_size(ndim);
	int rc = tensor_size(dtype, ndim, dims, &count, data_size);

	if (rc < 0)
		return rc;
	if (*data_size > UINT32_MAX - hsize)
		return MLI_ERANGE;
	memset(out, 0, hsize);
	out[0] = (uint8_t)dtype;
	out[1] = (uint8_t)ndim;
	for (int i = 0; i < ndim; i++)
		mli_store32(out + 4 + 4 * i, dims[i]);
	return (int)hsize;
}

int mli_tensor_parse(const uint8_t *data, size_t size, struct mli_tensor *t, const char **why)
{
	size_t hsize, data_size;

	if (size < 8) {
		*why = "tensor shorter than its header";
		return MLI_ERECORD;
	}
	t->dtype = data[0];
	t->ndim = data[1];
	if (mli_dtype_size(t->dtype) == 0 || t->ndim < 1 || t->ndim > MLI_TENSOR_NDIM_MAX
	    || data[2] != 0 || data[3] != 0) {
		*why = "tensor with unknown dtype or bad ndim";
		return MLI_ERECORD;
	}
	hsize = mli_tensor_header_size(t->ndim);
	if (size < hsize) {
		*why = "tensor shorter than its header";
		return MLI_ERECORD;
	}
	for (int i = 0; i < t->ndim; i++)
		t->dims[i] = mli_load32(data + 4 + 4 * i);
	for (size_t i = 4 + 4 * (size_t)t->ndim; i < hsize; i++)
		if (data[i] != 0) {
			*why = "tensor header padding not zero";
			return MLI_ERECORD;
		}
	if (tensor_size(t->dtype, t->ndim, t->dims, &t->count, &data_size) < 0
	    || data_size != size - hsize) {
		*why = "tensor size does not match its dims";
		return MLI_ERECORD;
	}
	t->data = data + hsize;
	return 0;
}

/* Whether p holds well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
static int valid_utf8(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return 0;
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

int mli_text_valid(const uint8_t *p, size_t n, size_t max)
{
	return n > 0 && n <= max && memchr(p, 0, n) == NULL && valid_utf8(p, n);
}

static int check_text(const struct mli_field *f, size_t max, const char **why)
{
	if (!mli_text_valid(f->data, f->size, max)) {
		*why = "empty, overlong, NUL-containing or non-UTF-8 text field";
		return MLI_ERECORD;
	}
	return 0;
}

static int check_labels(const uint8_t *data, size_t size, const char **why)
{
	if (size % sizeof(struct mli_label) != 0) {
		*why = "LABELS size not a multiple of 8";
		return MLI_ERECORD;
	}
	for (size_t i = 0; i < size; i += sizeof(struct mli_label)) {
		float conf;
		memcpy(&conf, data + i + 4, sizeof conf);
		if (!isfinite(conf)) {
			*why = "label confidence not finite";
			return MLI_ERECORD;
		}
	}
	return 0;
}

/* The contents of each known field, checked once at read time so that a
 * consumer can trust a parsed record. */
static int check_field(const struct mli_record *rec, const struct mli_field *f, const char **why)
{
	struct mli_tensor t;
	int rc;

	switch (f->tag) {
	case MLI_TAG_KEY:
		return check_text(f, MLI_KEY_MAX, why);
	case MLI_TAG_MEDIA:
	case MLI_TAG_SOURCE:
	case MLI_TAG_CONTENT_TYPE:
		return check_text(f, UINT32_MAX, why);
	case MLI_TAG_HTTP_STATUS:
	case MLI_TAG_VIEW:
	case MLI_TAG_WIDTH:
	case MLI_TAG_HEIGHT:
		if (f->size != 4) {
			*why = "a 4-byte field of another size";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_VIEWS:
		return 0; /* checked against the batch size in check_batch() */
	case MLI_TAG_FEATURE:
		if ((rc = mli_tensor_parse(f->data, f->size, &t, why)) < 0)
			return rc;
		if (t.dtype != MLI_DTYPE_F32 || t.ndim != 1) {
			*why = "FEATURE not float32 [features]";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_LABELS:
		return check_labels(f->data, f->size, why);
	case MLI_TAG_PIXELS:
		if ((rc = mli_tensor_parse(f->data, f->size, &t, why)) < 0)
			return rc;
		if (t.dtype != MLI_DTYPE_U8 || t.ndim != 3 || t.dims[2] > 4) {
			*why = "PIXELS not uint8 [height, width, 1-4 channels]";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_INPUT:
		if ((rc = mli_tensor_parse(f->data, f->size, &t, why)) < 0)
			return rc;
		if (t.ndim != 4) {
			*why = "INPUT not [N, channels, height, width]";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_TARGET:
		if ((rc = mli_tensor_parse(f->data, f->size, &t, why)) < 0)
			return rc;
		if (t.dtype != MLI_DTYPE_F32 || t.ndim != 2) {
			*why = "TARGET not float32 [N, classes]";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_KEYS:
		if (f->size == 0 || f->data[f->size - 1] != 0) {
			*why = "KEYS not NUL-terminated";
			return MLI_ERECORD;
		}
		return 0;
	case MLI_TAG_BATCH_LABELS:
		return 0; /* checked against the batch size in check_batch() */
	case MLI_TAG_COUNT:
	case MLI_TAG_BYTES:
	case MLI_TAG_DIGEST:
		if (f->size != 8 || rec->type != MLI_TYPE_END) {
			*why = "end-frame field of wrong size or outside an end frame";
			return MLI_ERECORD;
		}
		return 0;
	}
	return 0;
}

static size_t count_strings(const uint8_t *p, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		n += p[i] == 0;
	return n;
}

/* The batch fields must agree on N, the batch size INPUT gives. */
static int check_batch(const struct mli_record *rec, const char **why)
{
	struct mli_tensor in, tgt;
	const struct mli_field *f;

	if (mli_record_tensor(rec, MLI_TAG_INPUT, &in, why) < 0)
		return MLI_ERECORD;
	if (mli_record_tensor(rec, MLI_TAG_TARGET, &tgt, why) == 0 && tgt.dims[0] != in.dims[0]) {
		*why = "TARGET rows differ from the batch size";
		return MLI_ERECORD;
	}
	if ((f = mli_record_field(rec, MLI_TAG_KEYS)) && count_strings(f->data, f->size) != in.dims[0]) {
		*why = "KEYS count differs from the batch size";
		return MLI_ERECORD;
	}
	if ((f = mli_record_field(rec, MLI_TAG_VIEWS)) && f->size != 4 * (size_t)in.dims[0]) {
		*why = "VIEWS count differs from the batch size";
		return MLI_ERECORD;
	}
	if ((f = mli_record_field(rec, MLI_TAG_BATCH_LABELS))) {
		uint64_t total = 0, n = in.dims[0];
		if (f->size < 4 * n) {
			*why = "BATCH_LABELS shorter than its counts";
			return MLI_ERECORD;
		}
		for (size_t i = 0; i < n; i++)
			total += mli_load32(f->data + 4 * i);
		if (total * sizeof(struct mli_label) != f->size - 4 * n)
			goto bad;
		return check_labels(f->data + 4 * n, f->size - 4 * n, why);
	}
	return 0;
bad:
	*why = "BATCH_LABELS counts do not match its pairs";
	return MLI_ERECORD;
}

static const uint32_t required_end[] = { MLI_TAG_COUNT, MLI_TAG_BYTES, MLI_TAG_DIGEST, 0 };
static const uint32_t required_encoded[] = { MLI_TAG_BLOB, 0 };
static const uint32_t required_image[] = { MLI_TAG_PIXELS, 0 };
static const uint32_t required_batch[] = { MLI_TAG_INPUT, 0 };
static const uint32_t required_features[] = { MLI_TAG_FEATURE, 0 };

int mli_record_parse(const uint8_t *payload, size_t len, int type,
		     struct mli_record *rec, const char **why)
{
	const uint32_t *required = NULL;
	size_t pos = 0;
	int rc;

	memset(rec, 0, offsetof(struct mli_record, fields));
	rec->type = type;
	rec->payload = payload;
	rec->payload_len = len;
	while (pos < len) {
		struct mli_field *f;
		size_t end;

		if (len - pos < 8) {
			*why = "field header cut short";
			return MLI_ERECORD;
		}
		if (rec->n_fields == MLI_FIELDS_MAX) {
			*why = "too many fields";
			return MLI_ERECORD;
		}
		f = &rec->fields[rec->n_fields];
		f->tag = mli_load32(payload + pos);
		f->size = mli_load32(payload + pos + 4);
		f->data = payload + pos + 8;
		if (f->size > len - pos - 8) {
			*why = "field longer than the payload";
			return MLI_ERECORD;
		}
		end = pos + 8 + f->size;
		if (PAD8(end) > len) {
			*why = "field padding cut short";
			return MLI_ERECORD;
		}
		for (size_t i = end; i < PAD8(end); i++)
			if (payload[i] != 0) {
				*why = "field padding not zero";
				return MLI_ERECORD;
			}
		if (mli_record_field(rec, f->tag) != NULL) {
			*why = "field tag repeated";
			return MLI_ERECORD;
		}
		rec->n_fields++;
		if ((rc = check_field(rec, f, why)) < 0)
			return rc;
		pos = PAD8(end);
	}

	switch (type) {
	case MLI_TYPE_END: required = required_end; break;
	case MLI_TYPE_ENCODED: required = required_encoded; break;
	case MLI_TYPE_IMAGE: required = required_image; break;
	case MLI_TYPE_BATCH: required = required_batch; break;
	case MLI_TYPE_FEATURES: required = required_features; break;
	}
	for (; required && *required; required++)
		if (!mli_record_field(rec, *required)) {
			*why = "a required field is missing";
			return MLI_ERECORD;
		}

	if (type != MLI_TYPE_END) {
		const struct mli_field *k = mli_record_field(rec, MLI_TAG_KEY);
		const struct mli_field *l = mli_record_field(rec, MLI_TAG_LABELS);
		if (!k) {
			*why = "record without a KEY";
			return MLI_ERECORD;
		}
		rec->key = (const char *)k->data;
		rec->key_len = k->size;
		if (l) {
			rec->labels = (const struct mli_label *)(const void *)l->data;
			rec->n_labels = l->size / sizeof(struct mli_label);
		}
	}
	if (type == MLI_TYPE_BATCH)
		return check_batch(rec, why);
	return 0;
}

const struct mli_field *mli_record_field(const struct mli_record *rec, uint32_t tag)
{
	for (size_t i = 0; i < rec->n_fields; i++)
		if (rec->fields[i].tag == tag)
			return &rec->fields[i];
	return NULL;
}

int mli_record_tensor(const struct mli_record *rec, uint32_t tag,
		      struct mli_tensor *t, const char **why)
{
	const struct mli_field *f = mli_record_field(rec, tag);

	if (!f) {
		*why = "no such field";
		return MLI_EINVAL;
	}
	return mli_tensor_parse(f->data, f->size, t, why);
}

int mli_record_copy(struct mli_record_copy *c, const struct mli_record *rec)
{
	const uint8_t *from = rec->payload;
	uint8_t *to;

	if (rec->payload_len > c->cap) {
		free(c->buf);
		c->cap = 0;
		if (posix_memalign((void **)&c->buf, 64, rec->payload_len) != 0) {
			c->buf = NULL;
			return MLI_ENOMEM;
		}
		c->cap = rec->payload_len;
	}
	to = c->buf;
	if (rec->payload_len)
		memcpy(to, from, rec->payload_len);
	c->rec = *rec;
	c->rec.payload = to;
	/* Every view keeps its offset into the payload. */
	for (size_t i = 0; i < rec->n_fields; i++)
		c->rec.fields[i].data = to + (rec->fields[i].data - from);
	if (rec->key)
		c->rec.key = (const char *)to + ((const uint8_t *)rec->key - from);
	if (rec->labels)
		c->rec.labels = (const struct mli_label *)(const void *)
			(to + ((const uint8_t *)rec->labels - from));
	return 0;
}

void mli_record_copy_free(struct mli_record_copy *c)
{
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

/* record.h: the fields of a record payload (mli-frame(5), "Payload").
 *
 * A parsed record is a view: its pointers point into the payload buffer it
 * was parsed from, and stay valid as long as that buffer does (for a record
 * from mli_reader_next(), until the next call on that reader). */
#ifndef MLI_RECORD_H
#define MLI_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Field tags. */
enum mli_tag {
	MLI_TAG_KEY = 1,
	MLI_TAG_LABELS = 2,
	MLI_TAG_BLOB = 3,
	MLI_TAG_MEDIA = 4,
	MLI_TAG_SOURCE = 5,
	MLI_TAG_PIXELS = 6,
	MLI_TAG_INPUT = 7,
	MLI_TAG_TARGET = 8,
	MLI_TAG_KEYS = 9,
	MLI_TAG_BATCH_LABELS = 10,
	MLI_TAG_COUNT = 16,
	MLI_TAG_BYTES = 17,
	MLI_TAG_DIGEST = 18,
	MLI_TAG_HTTP_STATUS = 32,   /* ENCODED: 4 bytes, the final HTTP status (mli-fetch) */
	MLI_TAG_CONTENT_TYPE = 33,  /* ENCODED: the server's Content-Type header, as text */
	MLI_TAG_VIEW = 40,          /* IMAGE: 4 bytes, which of several views of one image (mli-augment --ten-crop) */
	MLI_TAG_VIEWS = 41,         /* BATCH: N 4-byte VIEW values, one per image */
	MLI_TAG_WIDTH = 48,         /* ENCODED: 4 bytes, the source's width as its TFRecord stated it */
	MLI_TAG_HEIGHT = 49,        /* ENCODED: 4 bytes, the source's height likewise */
	MLI_TAG_FEATURE = 64        /* FEATURES: float32 tensor [features], an image's pooled vector (mli-eval) */
};

/* Tensor element types. */
enum mli_dtype {
	MLI_DTYPE_U8 = 1,
	MLI_DTYPE_F32 = 2,
	MLI_DTYPE_I32 = 3,
	MLI_DTYPE_F16 = 4
};

#define MLI_KEY_MAX 65535
#define MLI_FIELDS_MAX 32
#define MLI_TENSOR_NDIM_MAX 8

/* One sparse label: a class index and its confidence (-1: ignore). The
 * payload's 8-byte alignment lets a view point at these directly. */
struct mli_label {
	uint32_t cls;
	float conf;
};

struct mli_field {
	uint32_t tag;
	uint32_t size;
	const uint8_t *data;
};

struct mli_tensor {
	int dtype;
	int ndim;
	uint32_t dims[MLI_TENSOR_NDIM_MAX];
	size_t count;          /* product of dims */
	const void *data;      /* count elements, row-major */
};

struct mli_record {
	int type;
	const uint8_t *payload;          /* the payload_len bytes parsed */
	size_t payload_len;
	const char *key;                 /* key_len bytes, not NUL-terminated */
	size_t key_len;
	const struct mli_label *labels;  /* n_labels pairs */
	size_t n_labels;
	size_t n_fields;                 /* every field, known or not, in order */
	struct mli_field fields[MLI_FIELDS_MAX];
};

/* Parses and checks a payload of a record of the given type: the field
 * layout, that no tag repeats, the contents of every known field and the
 * fields the type requires. Returns 0, or MLI_ERECORD with *why set to a
 * phrase naming the fault. */
int mli_record_parse(const uint8_t *payload, size_t len, int type,
		     struct mli_record *rec, const char **why);

/* An owned copy of a record, for work that outlives the view it was made
 * from (a record handed to a worker thread while the reader moves on).
 * Zero-initialise; the buffer is reused from copy to copy. */
struct mli_record_copy {
	struct mli_record rec;  /* the same views, pointing into buf */
	uint8_t *buf;           /* 64-byte aligned, like the reader's */
	size_t cap;
};

/* Copies rec's payload into c and points c->rec into the copy. Returns 0
 * or MLI_ENOMEM. */
int mli_record_copy(struct mli_record_copy *c, const struct mli_record *rec);
void mli_record_copy_free(struct mli_record_copy *c);

/* The field with this tag, or NULL. */
const struct mli_field *mli_record_field(const struct mli_record *rec, uint32_t tag);

/* Parses the tensor in the field with this tag. Returns 0, MLI_EINVAL when
 * the record has no such field, or MLI_ERECORD (with *why) when malformed. */
int mli_record_tensor(const struct mli_record *rec, uint32_t tag,
		      struct mli_tensor *t, const char **why);

/* Parses tensor field data. Returns 0 or MLI_ERECORD with *why set. */
int mli_tensor_parse(const uint8_t *data, size_t size, struct mli_tensor *t, const char **why);

/* Size in bytes of one element of dtype, or 0 for an unknown dtype. */
size_t mli_dtype_size(int dtype);

/* Bytes of a tensor field's header (with padding) for ndim dimensions. */
size_t mli_tensor_header_size(int ndim);

/* Fills a tensor field header for these dims into out (at most 40 bytes).
 * Returns the header size, or MLI_EINVAL / MLI_ERANGE when the dims are
 * invalid or the data would not fit in a field; *data_size gets the size
 * of the elements. */
int mli_tensor_header(int dtype, int ndim, const uint32_t *dims, uint8_t *out, size_t *data_size);

/* Whether n bytes at p are a valid text field: 1 to max bytes of UTF-8
 * without NUL. */
int mli_text_valid(const uint8_t *p, size_t n, size_t max);

/* The name of a tag ("PIXELS"), or NULL for an unknown tag. */
const char *mli_tag_name(uint32_t tag);

#endif

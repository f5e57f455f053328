/* example.c: the fixed tf.Example schema of the original shards (see
 * example.h). Every length read is checked against the bytes left before
 * it is used. */
#include <string.h>

#include "error.h"
#include "example.h"

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };
enum { KIND_BYTES = 1, KIND_FLOAT = 2, KIND_INT64 = 3 };

struct cursor {
	const uint8_t *p, *end;
};

static int get_varint(struct cursor *c, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (c->p == c->end)
			return -1;
		uint8_t b = *c->p++;
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Reads one field's key and, for a length-delimited field, its bytes into
 * *sub; other wire types are skipped (*sub left empty). */
static int get_field(struct cursor *c, uint32_t *number, int *wire, struct cursor *sub,
		     uint64_t *value, const char **why)
{
	uint64_t key, len;

	if (get_varint(c, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) {
		*why = "malformed field key";
		return -1;
	}
	*number = (uint32_t)(key >> 3);
	*wire = (int)(key & 7);
	sub->p = sub->end = NULL;
	switch (*wire) {
	case WIRE_VARINT:
		if (get_varint(c, value) < 0) {
			*why = "malformed varint";
			return -1;
		}
		return 0;
	case WIRE_I64:
	case WIRE_I32:
		len = *wire == WIRE_I64 ? 8 : 4;
		if ((uint64_t)(c->end - c->p) < len) {
			*why = "fixed-size field past the end";
			return -1;
		}
		c->p += len;
		return 0;
	case WIRE_LEN:
		if (get_varint(c, &len) < 0 || len > (uint64_t)(c->end - c->p)) {
			*why = "length past the end";
			return -1;
		}
		sub->p = c->p;
		sub->end = c->p + len;
		c->p += len;
		return 0;
	}
	*why = "unsupported wire type";
	return -1;
}

/* A bytes_list with exactly one value. */
static int one_bytes(struct cursor list, const uint8_t **p, size_t *n, const char **why)
{
	struct cursor v;
	uint32_t num;
	int wire, count = 0;
	uint64_t value;

	while (list.p < list.end) {
		if (get_field(&list, &num, &wire, &v, &value, why) < 0)
			return -1;
		if (num != 1)
			continue;
		if (wire != WIRE_LEN || ++count > 1) {
			*why = "a bytes feature without exactly one value";
			return -1;
		}
		*p = v.p;
		*n = (size_t)(v.end - v.p);
	}
	if (count != 1) {
		*why = "a bytes feature without exactly one value";
		return -1;
	}
	return 0;
}

/* An int64_list with exactly one value, packed or not. */
static int one_int64(struct cursor list, int64_t *out, const char **why)
{
	struct cursor v;
	uint32_t num;
	int wire, count = 0;
	uint64_t value;

	while (list.p < list.end) {
		if (get_field(&list, &num, &wire, &v, &value, why) < 0)
			return -1;
		if (num != 1)
			continue;
		if (wire == WIRE_VARINT) {
			*out = (int64_t)value;
			count++;
		} else if (wire == WIRE_LEN) {
			while (v.p < v.end) {
				if (get_varint(&v, &value) < 0) {
					*why = "malformed packed int64";
					return -1;
				}
				*out = (int64_t)value;
				count++;
			}
		} else {
			*why = "an int64 feature of the wrong wire type";
			return -1;
		}
	}
	if (count != 1) {
		*why = "an int64 feature without exactly one value";
		return -1;
	}
	return 0;
}

/* The float32 bytes of a label: a bytes_list's one value or a packed
 * float_list (an unpacked one is refused). */
static int label_bytes(int kind, struct cursor list, const uint8_t **p, size_t *n, const char **why)
{
	struct cursor v;
	uint32_t num;
	int wire, count = 0;
	uint64_t value;

	if (kind == KIND_BYTES) {
		if (one_bytes(list, p, n, why) < 0)
			return -1;
	} else {
		*p = list.p;
		*n = 0;
		while (list.p < list.end) {
			if (get_field(&list, &num, &wire, &v, &value, why) < 0)
				return -1;
			if (num != 1)
				continue;
			if (wire != WIRE_LEN || ++count > 1) {
				*why = "label: a float_list that is not packed once";
				return -1;
			}
			*p = v.p;
			*n = (size_t)(v.end - v.p);
		}
	}
	if (*n % 4) {
		*why = "label: size not a multiple of 4 bytes";
		return -1;
	}
	return 0;
}

static int name_is(struct cursor k, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(k.end - k.p) == n && memcmp(k.p, s, n) == 0;
}

/* One map entry of Features: a key and a Feature. */
static int parse_entry(struct cursor e, struct mli_example *ex, const char **why)
{
	struct cursor key = { NULL, NULL }, feature = { NULL, NULL }, v, list = { NULL, NULL };
	uint32_t num;
	int wire, kind = 0, has_key = 0;
	uint64_t value;

	while (e.p < e.end) {
		if (get_field(&e, &num, &wire, &v, &value, why) < 0)
			return -1;
		if (wire != WIRE_LEN)
			continue;
		if (num == 1) {
			key = v;
			has_key = 1;
		} else if (num == 2) {
			feature = v;
		}
	}
	if (!has_key)
		return 0;
	while (feature.p && feature.p < feature.end) {
		if (get_field(&feature, &num, &wire, &v, &value, why) < 0)
			return -1;
		if (wire == WIRE_LEN && num >= KIND_BYTES && num <= KIND_INT64) {
			kind = (int)num;
			list = v;
		}
	}
	if (name_is(key, "width") || name_is(key, "height")) {
		int64_t *out = name_is(key, "width") ? &ex->width : &ex->height;
		if (kind != KIND_INT64) {
			*why = "width or height: not an int64 feature";
			return -1;
		}
		if (one_int64(list, out, why) < 0)
			return -1;
		if (*out < 0) {
			*why = "width or height: negative";
			return -1;
		}
	} else if (name_is(key, "image") || name_is(key, "name")) {
		int is_image = name_is(key, "image");
		if (kind != KIND_BYTES) {
			*why = "image or name: not a bytes feature";
			return -1;
		}
		if (is_image ? one_bytes(list, &ex->image, &ex->image_len, why)
			     : one_bytes(list, &ex->name, &ex->name_len, why))
			return -1;
	} else if (name_is(key, "label")) {
		if (kind != KIND_BYTES && kind != KIND_FLOAT) {
			*why = "label: not a bytes or float feature";
			return -1;
		}
		if (label_bytes(kind, list, &ex->label, &ex->label_len, why) < 0)
			return -1;
	}
	return 0;
}

int mli_example_parse(const uint8_t *p, size_t n, struct mli_example *ex, const char **why)
{
	struct cursor c = { p, p + n }, v, e;
	uint32_t num;
	int wire;
	uint64_t value;

	memset(ex, 0, sizeof *ex);
	ex->width = ex->height = -1;
	while (c.p < c.end) {
		if (get_field(&c, &num, &wire, &v, &value, why) < 0)
			return MLI_ERECORD;
		if (num != 1 || wire != WIRE_LEN)
			continue;
		while (v.p < v.end) {
			if (get_field(&v, &num, &wire, &e, &value, why) < 0)
				return MLI_ERECORD;
			if (num == 1 && wire == WIRE_LEN && parse_entry(e, ex, why) < 0)
				return MLI_ERECORD;
		}
	}
	return 0;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

/* Size of a length-delimited field holding n bytes. */
static size_t len_field(size_t n)
{
	return 1 + varint_size(n) + n;
}

/* Sizes of the nested messages of one feature: the list, the Feature, the
 * map entry. */
struct sizes {
	size_t list, feature, entry;
};

static struct sizes feature_sizes(const char *key, int kind, uint64_t ivalue, size_t bytes_len)
{
	struct sizes s;

	s.list = kind == KIND_INT64 ? len_field(varint_size(ivalue)) : len_field(bytes_len);
	s.feature = len_field(s.list);
	s.entry = len_field(strlen(key)) + len_field(s.feature);
	return s;
}

static uint8_t *put_feature(uint8_t *o, const char *key, int kind, uint64_t ivalue,
			    const uint8_t *bytes, size_t bytes_len)
{
	struct sizes s = feature_sizes(key, kind, ivalue, bytes_len);
	size_t klen = strlen(key);

	*o++ = (1 << 3) | WIRE_LEN;          /* Features.feature */
	o = put_varint(o, s.entry);
	*o++ = (1 << 3) | WIRE_LEN;          /* entry key */
	o = put_varint(o, klen);
	memcpy(o, key, klen);
	o += klen;
	*o++ = (2 << 3) | WIRE_LEN;          /* entry value: Feature */
	o = put_varint(o, s.feature);
	*o++ = (uint8_t)((kind << 3) | WIRE_LEN);
	o = put_varint(o, s.list);
	*o++ = (1 << 3) | WIRE_LEN;          /* the list's values */
	if (kind == KIND_INT64) {
		o = put_varint(o, varint_size(ivalue));
		o = put_varint(o, ivalue);
	} else {
		o = put_varint(o, bytes_len);
		if (bytes_len)
			memcpy(o, bytes, bytes_len);
		o += bytes_len;
	}
	return o;
}

static size_t features_size(const struct mli_example *ex)
{
	size_t n = 0;

	if (ex->width >= 0)
		n += len_field(feature_sizes("width", KIND_INT64, (uint64_t)ex->width, 0).entry);
	if (ex->height >= 0)
		n += len_field(feature_sizes("height", KIND_INT64, (uint64_t)ex->height, 0).entry);
	if (ex->name)
		n += len_field(feature_sizes("name", KIND_BYTES, 0, ex->name_len).entry);
	if (ex->label)
		n += len_field(feature_sizes("label", KIND_BYTES, 0, ex->label_len).entry);
	if (ex->image)
		n += len_field(feature_sizes("image", KIND_BYTES, 0, ex->image_len).entry);
	return n;
}

size_t mli_example_size(const struct mli_example *ex)
{
	return len_field(features_size(ex));
}

size_t mli_example_write(const struct mli_example *ex, uint8_t *out)
{
	uint8_t *o = out;

	*o++ = (1 << 3) | WIRE_LEN;          /* Example.features */
	o = put_varint(o, features_size(ex));
	if (ex->width >= 0)
		o = put_feature(o, "width", KIND_INT64, (uint64_t)ex->width, NULL, 0);
	if (ex->height >= 0)
		o = put_feature(o, "height", KIND_INT64, (uint64_t)ex->height, NULL, 0);
	if (ex->name)
		o = put_feature(o, "name", KIND_BYTES, 0, ex->name, ex->name_len);
	if (ex->label)
		o = put_feature(o, "label", KIND_BYTES, 0, ex->label, ex->label_len);
	if (ex->image)
		o = put_feature(o, "image", KIND_BYTES, 0, ex->image, ex->image_len);
	return (size_t)(o - out);
}

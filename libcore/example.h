/* example.h: the tf.Example of the original release's TFRecord shards.
 *
 * The original tfrecord.py stores each image as a tf.Example with five
 * features: "width" and "height" (int64_list), "image" (bytes_list, the
 * encoded file), "name" (bytes_list, the file name) and "label"
 * (bytes_list holding one little-endian float32 per class, the dense
 * label vector). This module reads and writes exactly that schema with a
 * small hand-written protobuf codec, not a general one: features it does
 * not know are skipped; a "label" given as a packed float_list is read
 * too (its bytes are the same). The protobuf schema, for reference:
 *
 *     Example  { Features features = 1; }
 *     Features { map<string, Feature> feature = 1; }
 *     Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2;
 *                        Int64List int64_list = 3; } }
 *     XxxList  { repeated xxx value = 1; }   (floats and int64s packed)
 *
 * A parsed example is a view into the buffer it was parsed from. */
#ifndef MLI_EXAMPLE_H
#define MLI_EXAMPLE_H

#include <stddef.h>
#include <stdint.h>

struct mli_example {
	int64_t width, height;     /* -1 when absent */
	const uint8_t *image;      /* image_len bytes, or NULL when absent */
	size_t image_len;
	const uint8_t *name;       /* name_len bytes, or NULL when absent */
	size_t name_len;
	const uint8_t *label;      /* label_len bytes: float32 LE per class, or NULL */
	size_t label_len;
};

/* Parses a serialized tf.Example of n bytes. Returns 0, or MLI_ERECORD
 * with *why naming the fault: malformed protobuf (a varint over 10 bytes,
 * a length past the end, an unknown or group wire type), a feature of
 * the wrong kind or with other than one value, a label whose size is not
 * a multiple of 4. Missing features are left absent; the caller decides
 * which it requires. */
int mli_example_parse(const uint8_t *p, size_t n, struct mli_example *ex, const char **why);

/* The serialized size of ex as mli_example_write() writes it. */
size_t mli_example_size(const struct mli_example *ex);

/* Serializes ex into out (mli_example_size(ex) bytes): the features width,
 * height, name, label and image, in that order, those absent left out.
 * Returns the size written. */
size_t mli_example_write(const struct mli_example *ex, uint8_t *out);

#endif

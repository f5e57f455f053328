/* dictionary.h: the class dictionary and its hierarchy, and class maps.
 *
 * The release's dictionary_and_semantic_hierarchy.txt has one line per
 * class after a header line:
 *
 *     category_index<TAB>category_id<TAB>index_of_parent_category<TAB>name
 *
 * with indices 0..N-1 in order, a WordNet id (n00002452), the parent's
 * index or -1 for a root, and the class name ("object, physical object").
 * The original annotations label an image with every ancestor of each of
 * its classes; mli_dictionary_propagate() does the same to any labels.
 *
 * A class map renumbers or selects classes (for example the 10,505
 * "trainable" ones). Its file has one line per kept class, either
 * "OLD" (the class becomes the line's rank among the map's lines, from 0)
 * or "OLD<TAB>NEW"; blank lines and lines starting with '#' are skipped.
 * Classes not in the map are dropped. */
#ifndef MLI_DICTIONARY_H
#define MLI_DICTIONARY_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct mli_dictionary;

/* Parses a dictionary of len bytes. Returns 0 with *out set, MLI_ENOMEM,
 * or MLI_EINVAL with *line (from 1) and *why naming the fault: a line
 * without four TAB-separated fields, an index out of order, a parent that
 * is not -1 or a known index, a cycle, no classes at all. */
int mli_dictionary_parse(const char *text, size_t len, struct mli_dictionary **out,
			 size_t *line, const char **why);

/* Reads and parses the file at path: as mli_dictionary_parse(), or
 * MLI_ESYS when it cannot be read (errno says why). */
int mli_dictionary_read(const char *path, struct mli_dictionary **out, size_t *line,
			const char **why);

void mli_dictionary_free(struct mli_dictionary *d);

/* Number of classes. */
size_t mli_dictionary_size(const struct mli_dictionary *d);

/* The name of class cls (NUL-terminated), or NULL past the end. */
const char *mli_dictionary_name(const struct mli_dictionary *d, uint32_t cls);

/* The WordNet id of class cls, or NULL past the end. */
const char *mli_dictionary_id(const struct mli_dictionary *d, uint32_t cls);

/* The parent of class cls: its index, -1 for a root, -2 past the end. */
int64_t mli_dictionary_parent(const struct mli_dictionary *d, uint32_t cls);

/* Copies the n labels of in to out and appends every ancestor of each
 * label whose confidence is positive that is not already there, with the
 * highest confidence among its labelled descendants, in the order first
 * met walking up from each label in turn. Ignored labels (confidence
 * below 0) are kept and not propagated. Returns the number of labels in
 * out, MLI_ERANGE when a class is not in the dictionary, or MLI_ENOMEM when
 * more than cap labels would result. */
int mli_dictionary_propagate(const struct mli_dictionary *d, const struct mli_label *in,
			     size_t n, struct mli_label *out, size_t cap);

struct mli_classmap;

/* Parses a class map; as mli_dictionary_parse() (faults: a line that is
 * not one or two whole numbers, a class mapped twice). */
int mli_classmap_parse(const char *text, size_t len, struct mli_classmap **out, size_t *line,
		       const char **why);
int mli_classmap_read(const char *path, struct mli_classmap **out, size_t *line, const char **why);
void mli_classmap_free(struct mli_classmap *m);

/* The number of classes after mapping: one more than the largest NEW. */
size_t mli_classmap_classes(const struct mli_classmap *m);

/* Maps n labels in place, dropping those of unmapped classes and keeping
 * the highest confidence where two classes map to one. Returns the number
 * left. */
size_t mli_classmap_apply(const struct mli_classmap *m, struct mli_label *labels, size_t n);

#endif

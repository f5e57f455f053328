/* unit-dictionary.c: the release's class dictionary and hierarchy,
 * ancestor propagation, class maps, and malformed dictionaries. */
#include <stdlib.h>

#include "dictionary.h"
#include "mli.h"
#include "tap.h"

static struct mli_dictionary *load_release(void)
{
	const char *d = getenv("MLI_DATA");
	char path[4096];
	struct mli_dictionary *dict = NULL;
	const char *why;
	size_t line;

	snprintf(path, sizeof path, "%s/dictionary_and_semantic_hierarchy.txt",
		 d ? d : "../shared/data/tencent-ml-images");
	if (mli_dictionary_read(path, &dict, &line, &why) < 0)
		return NULL;
	return dict;
}

static void test_release_dictionary(struct tap *tap)
{
	struct mli_dictionary *d = load_release();
	size_t roots = 0;

	ASSERT(d != NULL);
	ASSERT_EQ(mli_dictionary_size(d), 11166);
	for (uint32_t c = 0; c < 11166; c++)
		roots += mli_dictionary_parent(d, c) == -1;
	ASSERT_EQ(roots, 4);
	ASSERT(strcmp(mli_dictionary_name(d, 0), "thing") == 0);
	ASSERT(strcmp(mli_dictionary_name(d, 2), "object, physical object") == 0);
	ASSERT(strcmp(mli_dictionary_id(d, 0), "n00002452") == 0);
	ASSERT(strcmp(mli_dictionary_name(d, 11165), "poster, posting, placard, notice, bill, card") == 0);
	ASSERT_EQ(mli_dictionary_parent(d, 11164), 8629);
	ASSERT(mli_dictionary_name(d, 11166) == NULL);
	ASSERT_EQ(mli_dictionary_parent(d, 11166), -2);
	mli_dictionary_free(d);
}

/* 5170's ancestors are 1042, 865 and 2 (a root); 5177's parent is 5170. */
static void test_propagate(struct tap *tap)
{
	struct mli_dictionary *d = load_release();
	struct mli_label in[3] = { { 5177, 0.9f }, { 9416, -1.0f }, { 865, 0.5f } };
	struct mli_label out[32];
	int n;

	ASSERT(d != NULL);
	n = mli_dictionary_propagate(d, in, 3, out, 32);
	ASSERT_EQ(n, 6);
	/* Given labels stay first and as given: 865 keeps its 0.5. */
	ASSERT_EQ(out[0].cls, 5177);
	ASSERT_EQ(out[1].cls, 9416);
	ASSERT(out[1].conf == -1.0f);
	ASSERT_EQ(out[2].cls, 865);
	ASSERT(out[2].conf == 0.5f);
	ASSERT_EQ(out[3].cls, 5170);
	ASSERT(out[3].conf == 0.9f);
	ASSERT_EQ(out[4].cls, 1042);
	ASSERT_EQ(out[5].cls, 2);
	ASSERT(out[5].conf == 0.9f);
	/* Too small an output, and a class the dictionary does not know. */
	ASSERT_EQ(mli_dictionary_propagate(d, in, 3, out, 4), MLI_ENOMEM);
	in[0].cls = 11166;
	ASSERT_EQ(mli_dictionary_propagate(d, in, 3, out, 32), MLI_ERANGE);
	mli_dictionary_free(d);
}

static void test_bad_dictionaries(struct tap *tap)
{
	static const struct { const char *text; size_t line; } bad[] = {
		{ "h\n0\tn1\t-1\ta\n2\tn2\t0\tb\n", 3 },       /* index out of order */
		{ "0\tn1\t-1\ta\n1\tn2\t-2\tb\n", 2 },         /* parent below -1 */
		{ "0\tn1\t1\ta\n1\tn2\t0\tb\n", 0 },           /* a cycle */
		{ "0\tn1\t5\ta\n", 0 },                         /* a parent that is not a class */
		{ "0\tn1\t-1\ta\nfoo\n", 2 },                   /* not four fields */
		{ "category_index\tid\tparent\tname\n", 0 },    /* no classes */
	};
	struct mli_dictionary *d;
	const char *why;
	size_t line;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ASSERT_EQ(mli_dictionary_parse(bad[i].text, strlen(bad[i].text), &d, &line, &why), MLI_EINVAL);
		ASSERT_EQ(line, bad[i].line);
		ASSERT(why != NULL);
	}
	const char *good = "0\tn1\t-1\ta\r\n1\tn2\t0\tb c\r\n";
	ASSERT_EQ(mli_dictionary_parse(good, strlen(good), &d, &line, &why), 0);
	ASSERT(strcmp(mli_dictionary_name(d, 1), "b c") == 0);
	mli_dictionary_free(d);
}

static void test_classmap(struct tap *tap)
{
	const char *text = "# trainable\n7\n3\n\n9\t0\n";
	struct mli_classmap *m;
	struct mli_label l[4] = { { 3, 0.8f }, { 5, 1.0f }, { 9, 0.9f }, { 7, 1.0f } };
	const char *why;
	size_t line;

	ASSERT_EQ(mli_classmap_parse(text, strlen(text), &m, &line, &why), 0);
	ASSERT_EQ(mli_classmap_classes(m), 2);
	/* 7 -> 0, 3 -> 1, 9 -> 0 (the higher confidence kept), 5 dropped. */
	ASSERT_EQ(mli_classmap_apply(m, l, 4), 2);
	ASSERT_EQ(l[0].cls, 1);
	ASSERT(l[0].conf == 0.8f);
	ASSERT_EQ(l[1].cls, 0);
	ASSERT(l[1].conf == 1.0f);
	mli_classmap_free(m);
	ASSERT_EQ(mli_classmap_parse("1\n1\n", 4, &m, &line, &why), MLI_EINVAL);
	ASSERT_EQ(line, 2);
	ASSERT_EQ(mli_classmap_parse("x\n", 2, &m, &line, &why), MLI_EINVAL);
	ASSERT_EQ(mli_classmap_parse("", 0, &m, &line, &why), MLI_EINVAL);
}

int main(void)
{
	struct tap t = { 0 }, *tap = &t;

	RUN(test_release_dictionary);
	RUN(test_propagate);
	RUN(test_bad_dictionaries);
	RUN(test_classmap);
	return tap_done(tap);
}

/* unit-annotation.c: the annotation line parser on the release's own
 * lists, on hand-made edge cases, and on many mutated lines (the fuzz
 * corpus's replay stands in for a fuzzer here); the magic-byte sniffer on
 * the sample images; the key set. */
#include <math.h>
#include <stdlib.h>

#include "annotation.h"
#include "keyset.h"
#include "mli.h"
#include "sniff.h"
#include "tap.h"

static const char *data_dir(void)
{
	const char *d = getenv("MLI_DATA");
	return d ? d : "../shared/data/tencent-ml-images";
}

static FILE *open_data(const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", data_dir(), name);
	return fopen(path, "r");
}

static struct mli_label labels[MLI_ANNOTATION_LABELS_MAX];

/* Every line of a list parses; the figures below are those of the files. */
static void check_list(struct tap *tap, const char *name, size_t want_lines, size_t want_labels,
		       const char *first_key, uint32_t first_cls, const char *prefix)
{
	FILE *fp = open_data(name);
	char *line = NULL;
	size_t cap = 0, lines = 0, total = 0;
	ssize_t len;

	ASSERT(fp != NULL);
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct mli_annotation a;
		const char *why = NULL;
		int rc;

		if (line[len - 1] == '\n')
			len--;
		rc = mli_annotation_parse(line, (size_t)len, labels, MLI_ANNOTATION_LABELS_MAX, &a, &why);
		if (rc != 1) {
			fclose(fp);
			free(line);
			TAP_FAIL("%s line %zu: rc %d: %s", name, lines + 1, rc, why ? why : "");
		}
		if (lines == 0) {
			ASSERT_EQ(a.key_len, strlen(first_key));
			ASSERT_MEM_EQ(a.key, first_key, a.key_len);
			ASSERT_EQ(a.labels[0].cls, first_cls);
		}
		if (strncmp(a.key, prefix, strlen(prefix)) != 0)
			TAP_FAIL("%s line %zu: key does not start with %s", name, lines + 1, prefix);
		ASSERT(a.n_labels >= 1);
		for (size_t i = 0; i < a.n_labels; i++) {
			ASSERT(a.labels[i].cls < 11166);
			ASSERT(a.labels[i].conf >= 0.8f && a.labels[i].conf <= 1.0f);
		}
		lines++;
		total += a.n_labels;
	}
	free(line);
	fclose(fp);
	ASSERT_EQ(lines, want_lines);
	ASSERT_EQ(total, want_labels);
}

static void test_train_urls_tiny_parses(struct tap *tap)
{
	check_list(tap, "train_urls_tiny.txt", 100, 827,
		   "https://farm2.staticflickr.com/2034/1557324960_1ae893fed8_o.jpg", 4097, "http");
}

static void test_train_im_list_tiny_parses(struct tap *tap)
{
	check_list(tap, "train_im_list_tiny.txt", 100, 827, "17382017900_f7152f6e1c_o.jpg", 940, "");
}

static int parse(const char *s, struct mli_annotation *a, const char **why)
{
	return mli_annotation_parse(s, strlen(s), labels, MLI_ANNOTATION_LABELS_MAX, a, why);
}

static void test_values_and_separators(struct tap *tap)
{
	struct mli_annotation a;
	const char *why = NULL;

	ASSERT_EQ(parse("http://h/a.jpg\t5:0.9\t7:1\r", &a, &why), 1);
	ASSERT_EQ(a.key_len, 14);
	ASSERT_EQ(a.n_labels, 2);
	ASSERT_EQ(a.labels[0].cls, 5);
	ASSERT(fabsf(a.labels[0].conf - 0.9f) < 1e-7f);
	ASSERT_EQ(a.labels[1].cls, 7);
	ASSERT(a.labels[1].conf == 1.0f);
	/* Spaces between labels, a trailing TAB, -1 (ignore) and a key with a space. */
	ASSERT_EQ(parse("my photo.jpg\t1:1 2:-1  3:0.5\t", &a, &why), 1);
	ASSERT_EQ(a.key_len, 12);
	ASSERT_EQ(a.n_labels, 3);
	ASSERT(a.labels[1].conf == -1.0f);
	/* A bare key has no labels. */
	ASSERT_EQ(parse("im_0.jpg", &a, &why), 1);
	ASSERT_EQ(a.key_len, 8);
	ASSERT_EQ(a.n_labels, 0);
	ASSERT_EQ(parse("", &a, &why), 0);
	ASSERT_EQ(parse(" \t \r", &a, &why), 0);
}

static void test_bad_lines_are_named(struct tap *tap)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "\t1:1", "empty key" },
		{ "k\t1", "label is not class:confidence" },
		{ "k\t:1", "label is not class:confidence" },
		{ "k\t1:", "label is not class:confidence" },
		{ "k\tx:1", "label is not class:confidence" },
		{ "k\t1:abc", "confidence is not a number" },
		{ "k\t1:0.5x", "confidence is not a number" },
		{ "k\t1:nan", "confidence is not a number" },
		{ "k\t1:inf", "confidence is not a number" },
		{ "k\t1:1.5", "confidence outside [-1, 1]" },
		{ "k\t1:-2", "confidence outside [-1, 1]" },
		{ "k\t99999999999:1", "class index too large" },
		{ "k\t4294967295:1", "class index too large" },
		{ "\xff\xfe\t1:1", "key is not UTF-8 text" },
	};
	struct mli_annotation a;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *why = NULL;
		int rc = parse(bad[i].line, &a, &why);
		if (rc != MLI_EINVAL || !why || strcmp(why, bad[i].why) != 0)
			TAP_FAIL("case %zu: rc %d, why '%s', expected '%s'", i, rc, why ? why : "(null)", bad[i].why);
	}
}

static void test_label_cap_and_long_key(struct tap *tap)
{
	struct mli_label few[2];
	struct mli_annotation a;
	const char *why = NULL;
	static char key[MLI_KEY_MAX + 2];

	ASSERT_EQ(mli_annotation_parse("k\t1:1\t2:1\t3:1", 13, few, 2, &a, &why), MLI_EINVAL);
	ASSERT(strcmp(why, "too many labels") == 0);
	memset(key, 'a', MLI_KEY_MAX + 1);
	ASSERT_EQ(mli_annotation_parse(key, MLI_KEY_MAX + 1, few, 2, &a, &why), MLI_EINVAL);
	ASSERT(strcmp(why, "key too long") == 0);
	ASSERT_EQ(mli_annotation_parse(key, MLI_KEY_MAX, few, 2, &a, &why), 1);
	/* NUL inside the line is a bad key, not the end of the line. */
	ASSERT_EQ(mli_annotation_parse("a\0b\t1:1", 7, few, 2, &a, &why), MLI_EINVAL);
}

/* Mutates real lines (byte flips, truncations, insertions of separators)
 * and checks that every outcome is one of the three documented ones and
 * that a parsed line's views lie inside it. Run under ASan, this also
 * shows that the parser never reads past the length it is given. */
static void test_mutated_lines(struct tap *tap)
{
	static const char alphabet[] = "\t :.-+0123456789eE\r\xff\x80";
	FILE *fp = open_data("train_urls_tiny.txt");
	char *line = NULL, buf[4096];
	size_t cap = 0, n = 0, parsed = 0, rejected = 0;
	uint64_t rng = 12345;
	ssize_t len;

	ASSERT(fp != NULL);
	while ((len = getline(&line, &cap, fp)) > 0) {
		for (int k = 0; k < 400; k++) {
			struct mli_annotation a;
			const char *why = NULL;
			size_t m = (size_t)len < sizeof buf ? (size_t)len : sizeof buf;
			char *heap;
			int rc, edits;

			memcpy(buf, line, m);
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			edits = 1 + (int)((rng >> 60) & 3);
			for (int e = 0; e < edits; e++) {
				rng = rng * 6364136223846793005ull + 1442695040888963407ull;
				size_t at = (size_t)(rng >> 33) % m;
				switch ((rng >> 20) & 3) {
				case 0: buf[at] = alphabet[(rng >> 8) % (sizeof alphabet - 1)]; break;
				case 1: m = at; break;
				case 2: buf[at] ^= (char)(1 << ((rng >> 12) & 7)); break;
				case 3: buf[at] = '\t'; break;
				}
				if (m == 0)
					break;
			}
			/* An exact-size heap copy, so that ASan catches any overread. */
			heap = malloc(m ? m : 1);
			memcpy(heap, buf, m);
			rc = mli_annotation_parse(heap, m, labels, MLI_ANNOTATION_LABELS_MAX, &a, &why);
			if (rc == 1) {
				parsed++;
				if (a.key < heap || a.key + a.key_len > heap + m)
					TAP_FAIL("key outside the line");
				for (size_t i = 0; i < a.n_labels; i++)
					if (!isfinite(a.labels[i].conf) || a.labels[i].conf < -1 || a.labels[i].conf > 1)
						TAP_FAIL("bad confidence accepted");
			} else if (rc == MLI_EINVAL) {
				rejected++;
				if (!why)
					TAP_FAIL("rejected without a reason");
			} else if (rc != 0) {
				TAP_FAIL("unexpected rc %d", rc);
			}
			free(heap);
			n++;
		}
	}
	free(line);
	fclose(fp);
	ASSERT_EQ(n, 40000);
	printf("# %zu mutated lines: %zu parsed, %zu rejected\n", n, parsed, rejected);
	ASSERT(parsed > 1000 && rejected > 1000);
}

static void test_sniff_sample_images(struct tap *tap)
{
	for (int i = 0; i < 4; i++) {
		char path[4096];
		static uint8_t buf[4 << 20];
		struct mli_sniff s;
		size_t n;
		FILE *fp;

		snprintf(path, sizeof path, "%s/images/im_%d.jpg", data_dir(), i);
		ASSERT((fp = fopen(path, "rb")) != NULL);
		n = fread(buf, 1, sizeof buf, fp);
		fclose(fp);
		mli_sniff(buf, n, &s);
		ASSERT_EQ(s.kind, MLI_SNIFF_IMAGE);
		ASSERT(strcmp(s.media, "image/jpeg") == 0);
		ASSERT(mli_sniff_complete(s.media, buf, n));
		/* Cut in half, the same file has no end marker. */
		ASSERT(!mli_sniff_complete(s.media, buf, n / 2));
	}
}

static void test_sniff_markup_and_others(struct tap *tap)
{
	struct mli_sniff s;

	mli_sniff((const uint8_t *)"", 0, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_EMPTY);
	mli_sniff((const uint8_t *)"\xef\xbb\xbf\n  <!DOCTYPE html><html>", 27, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_MARKUP);
	ASSERT(strcmp(s.media, "text/html") == 0);
	mli_sniff((const uint8_t *)"<HTML><body>gone</body>", 23, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_MARKUP);
	mli_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_IMAGE);
	ASSERT(strcmp(s.media, "image/png") == 0);
	ASSERT(!mli_sniff_complete(s.media, (const uint8_t *)"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
	mli_sniff((const uint8_t *)"GIF89a\1\0\1\0", 10, &s);
	ASSERT(strcmp(s.media, "image/gif") == 0);
	mli_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16, &s);
	ASSERT(strcmp(s.media, "image/webp") == 0);
	mli_sniff((const uint8_t *)"Not Found", 9, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_UNKNOWN);
	mli_sniff((const uint8_t *)"\xff\xd8", 2, &s);
	ASSERT_EQ(s.kind, MLI_SNIFF_UNKNOWN);
}

static void test_keyset(struct tap *tap)
{
	struct mli_keyset s;
	char key[32];

	mli_keyset_init(&s);
	ASSERT_EQ(mli_keyset_has(&s, "a", 1), 0);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof key, "http://h/%d.jpg", i);
		ASSERT_EQ(mli_keyset_add(&s, key, (size_t)n), 1);
	}
	ASSERT_EQ(mli_keyset_add(&s, "http://h/5.jpg", 14), 0);
	ASSERT_EQ(s.n, 100000);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof key, "http://h/%d.jpg", i);
		ASSERT(mli_keyset_has(&s, key, (size_t)n));
		n = snprintf(key, sizeof key, "http://g/%d.jpg", i);
		ASSERT(!mli_keyset_has(&s, key, (size_t)n));
	}
	mli_keyset_free(&s);
}

int main(void)
{
	struct tap t = { 0 }, *tap = &t;

	RUN(test_train_urls_tiny_parses);
	RUN(test_train_im_list_tiny_parses);
	RUN(test_values_and_separators);
	RUN(test_bad_lines_are_named);
	RUN(test_label_cap_and_long_key);
	RUN(test_mutated_lines);
	RUN(test_sniff_sample_images);
	RUN(test_sniff_markup_and_others);
	RUN(test_keyset);
	return tap_done(tap);
}

/* unit-batch.c: the record-keyed random streams, the shuffle buffer, the
 * dense label matrix on the release's own annotation lines, and BATCH
 * records written and read back.
 *
 * Run as `unit-batch dump FILE...` it prints the BATCH records of streams
 * instead, for tests/mli-batch.bats: per batch "batch KEY N CxHxW dtype",
 * then per image "KEY<TAB>view<TAB>cls:conf,..." listing the nonzero
 * entries of its TARGET row, then "pixels SUM" (the sum of INPUT, float32
 * mapped back to 0-255). */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "annotation.h"
#include "batch.h"
#include "mli.h"
#include "random.h"
#include "shuffle.h"
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

static void test_rng_streams(struct tap *tap)
{
	struct mli_rng a, b;
	uint64_t first[8];
	double sum = 0;

	mli_rng_init(&a, 7, "im_0.jpg", 8, 3);
	mli_rng_init(&b, 7, "im_0.jpg", 8, 3);
	for (int i = 0; i < 8; i++) {
		first[i] = mli_rng_next(&a);
		ASSERT_EQ(first[i], mli_rng_next(&b));
	}
	/* Another seed, key or epoch: an unrelated stream. */
	mli_rng_init(&b, 8, "im_0.jpg", 8, 3);
	ASSERT(mli_rng_next(&b) != first[0]);
	mli_rng_init(&b, 7, "im_1.jpg", 8, 3);
	ASSERT(mli_rng_next(&b) != first[0]);
	mli_rng_init(&b, 7, "im_0.jpg", 8, 4);
	ASSERT(mli_rng_next(&b) != first[0]);
	/* Uniform: mean 1/2, variance 1/12, within 5 standard errors. */
	for (int i = 0; i < 100000; i++) {
		double u = mli_rng_uniform(&a);
		ASSERT(u >= 0 && u < 1);
		sum += u;
	}
	ASSERT(fabs(sum / 100000 - 0.5) < 5 * sqrt(1.0 / 12 / 100000));
	/* below(n) stays below n and reaches every value. */
	int seen[7] = { 0 };
	for (int i = 0; i < 7000; i++) {
		uint64_t v = mli_rng_below(&a, 7);
		ASSERT(v < 7);
		seen[v]++;
	}
	for (int i = 0; i < 7; i++)
		ASSERT(seen[i] > 850 && seen[i] < 1150);
}

/* Shuffles n items through a buffer of cap; out[i] = input index of the
 * i-th item out. */
static void shuffle_run(size_t n, size_t cap, uint64_t seed, uint64_t epoch, size_t *out)
{
	struct mli_shuffle *s;
	size_t *idx = malloc(n * sizeof *idx), k = 0;
	void *p;

	mli_shuffle_create(&s, cap, seed, epoch);
	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
		if (mli_shuffle_push(s, &idx[i], &p))
			out[k++] = *(size_t *)p;
	}
	while (mli_shuffle_pop(s, &p))
		out[k++] = *(size_t *)p;
	mli_shuffle_free(s);
	free(idx);
}

static void test_shuffle_permutation(struct tap *tap)
{
	static const size_t caps[] = { 1, 2, 16, 100, 1000, 5000 };
	enum { N = 3000 };
	size_t out[N], again[N];
	char seen[N];

	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		size_t moved = 0;
		shuffle_run(N, caps[c], 1, 0, out);
		memset(seen, 0, sizeof seen);
		for (size_t i = 0; i < N; i++) {
			ASSERT(out[i] < N);
			ASSERT(!seen[out[i]]);   /* nothing duplicated, so nothing lost */
			seen[out[i]] = 1;
			/* No item comes out before it is read, nor earlier
			 * than the buffer allows. */
			ASSERT(out[i] <= i + caps[c]);
			moved += out[i] != i;
		}
		if (caps[c] == 1)
			ASSERT_EQ(moved, 0);
		else
			ASSERT(moved > N / 2);
		shuffle_run(N, caps[c], 1, 0, again);
		ASSERT_MEM_EQ(out, again, sizeof out);
		if (caps[c] > 1) {
			shuffle_run(N, caps[c], 2, 0, again);
			ASSERT(memcmp(out, again, sizeof out) != 0);
			shuffle_run(N, caps[c], 1, 1, again);
			ASSERT(memcmp(out, again, sizeof out) != 0);
		}
	}
}

/* A uniform shuffle: with the buffer as large as the input, each item is
 * equally likely at each position (checked on the first position). */
static void test_shuffle_uniform(struct tap *tap)
{
	enum { N = 10, RUNS = 20000 };
	int first[N] = { 0 };
	size_t out[N];

	for (int r = 0; r < RUNS; r++) {
		shuffle_run(N, N, (uint64_t)r, 0, out);
		first[out[0]]++;
	}
	for (int i = 0; i < N; i++)
		ASSERT(abs(first[i] - RUNS / N) < 5 * 42);  /* sd = sqrt(20000 * .1 * .9) = 42 */
}

static struct mli_label labels[MLI_ANNOTATION_LABELS_MAX];

/* Every line of the release's file-name list gives exactly its labels in
 * a row of 11,166; thresholded at 0.9, 0.8 becomes 0 and 0.9 1. */
static void test_label_matrix(struct tap *tap)
{
	FILE *f = open_data("train_im_list_tiny.txt");
	float *row = malloc(11166 * sizeof *row), *bin = malloc(11166 * sizeof *bin);
	char line[1 << 16];
	size_t lines = 0, ones = 0, total = 0;
	struct mli_annotation a;
	const char *why;
	uint32_t bad;

	ASSERT(f && row && bin);
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\n");
		ASSERT_EQ(mli_annotation_parse(line, len, labels, MLI_ANNOTATION_LABELS_MAX, &a, &why), 1);
		ASSERT_EQ(mli_labels_dense(a.labels, a.n_labels, 11166, 0, 0, row, &bad), 0);
		ASSERT_EQ(mli_labels_dense(a.labels, a.n_labels, 11166, 1, 0.9f, bin, &bad), 0);
		size_t nonzero = 0;
		for (size_t c = 0; c < 11166; c++)
			nonzero += row[c] != 0;
		ASSERT_EQ(nonzero, a.n_labels);
		for (size_t i = 0; i < a.n_labels; i++) {
			/* The text's confidence, parsed independently. */
			ASSERT(row[a.labels[i].cls] == a.labels[i].conf);
			ASSERT(bin[a.labels[i].cls] == (a.labels[i].conf >= 0.9f ? 1.0f : 0.0f));
			ones += bin[a.labels[i].cls] == 1.0f;
		}
		total += a.n_labels;
		lines++;
	}
	fclose(f);
	ASSERT_EQ(lines, 100);
	ASSERT(ones > 0 && ones < total);
	/* The first line, by hand: 940:0.8 860:0.8 17:1 1:1. */
	const char *first = "17382017900_f7152f6e1c_o.jpg\t940:0.8\t860:0.8\t17:1\t1:1";
	mli_annotation_parse(first, strlen(first), labels, MLI_ANNOTATION_LABELS_MAX, &a, &why);
	mli_labels_dense(a.labels, a.n_labels, 11166, 0, 0, row, &bad);
	ASSERT(row[940] == 0.8f && row[860] == 0.8f && row[17] == 1.0f && row[1] == 1.0f);
	ASSERT(row[0] == 0.0f && row[2] == 0.0f && row[11165] == 0.0f);
	/* -1 (ignore) stays -1, binarised or not; a class too large is refused. */
	struct mli_label ign[2] = { { 3, -1.0f }, { 11166, 1.0f } };
	ASSERT_EQ(mli_labels_dense(ign, 1, 11166, 1, 0.5f, row, &bad), 0);
	ASSERT(row[3] == -1.0f);
	ASSERT_EQ(mli_labels_dense(ign, 2, 11166, 0, 0, row, &bad), MLI_ERANGE);
	ASSERT_EQ(bad, 11166);
	free(row);
	free(bin);
}

static void test_dictionaries(struct tap *tap)
{
	static const struct { const char *name; uint32_t classes; } dicts[] = {
		{ "dictionary_and_semantic_hierarchy.txt", 11166 },
		{ "imagenet2012_dictionary.txt", 1000 },
	};
	static char text[4 << 20];
	uint32_t classes;

	for (size_t i = 0; i < 2; i++) {
		FILE *f = open_data(dicts[i].name);
		ASSERT(f);
		size_t n = fread(text, 1, sizeof text, f);
		fclose(f);
		ASSERT_EQ(mli_dictionary_classes(text, n, &classes), 0);
		ASSERT_EQ(classes, dicts[i].classes);
	}
	ASSERT_EQ(mli_dictionary_classes("name\nother\n", 11, &classes), MLI_EINVAL);
}

/* Three 2x3 RGB images in a batch of float32, read back field by field. */
static void test_batch_record(struct tap *tap)
{
	struct mli_batch_options o = { .size = 4, .classes = 5, .dtype = MLI_DTYPE_F32 };
	struct mli_label l0[2] = { { 1, 0.9f }, { 4, -1.0f } }, l2[1] = { { 0, 1.0f } };
	uint32_t dims[3] = { 2, 3, 3 }, other[3] = { 3, 2, 3 }, bad;
	uint8_t px[3][18];
	struct mli_batch *b;
	struct mli_writer *w;
	struct mli_reader *r;
	struct mli_record rec;
	struct mli_tensor in, tgt;
	const struct mli_field *f;
	const char *why;
	FILE *tmp = tmpfile();

	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 18; k++)
			px[i][k] = (uint8_t)(i * 50 + k);
	ASSERT(tmp);
	ASSERT_EQ(mli_batch_create(&b, &o), 0);
	ASSERT(!mli_batch_shape(b));
	ASSERT_EQ(mli_batch_add(b, "a", 1, l0, 2, MLI_VIEW_NONE, px[0], dims, &bad), 1);
	ASSERT_EQ(mli_batch_add(b, "bb", 2, NULL, 0, 7, px[1], dims, &bad), 2);
	/* Another geometry is refused and nothing is added. */
	ASSERT_EQ(mli_batch_add(b, "x", 1, NULL, 0, MLI_VIEW_NONE, px[1], other, &bad), MLI_EINVAL);
	ASSERT_EQ(mli_batch_add(b, "ccc", 3, l2, 1, MLI_VIEW_NONE, px[2], dims, &bad), 3);
	ASSERT_EQ(mli_batch_shape(b)[1], 3);
	w = mli_writer_open(fileno(tmp), NULL);
	ASSERT_EQ(mli_batch_write(b, w, "batch-0", 7), 0);
	ASSERT_EQ(mli_batch_count(b), 0);
	ASSERT_EQ(mli_writer_finish(w), 0);
	mli_writer_free(w);
	mli_batch_free(b);

	lseek(fileno(tmp), 0, SEEK_SET);
	r = mli_reader_open(fileno(tmp), NULL);
	ASSERT_EQ(mli_reader_next(r, &rec), 1);
	ASSERT_EQ(rec.type, MLI_TYPE_BATCH);
	ASSERT_EQ(mli_record_tensor(&rec, MLI_TAG_INPUT, &in, &why), 0);
	ASSERT_EQ(in.dtype, MLI_DTYPE_F32);
	ASSERT(in.ndim == 4 && in.dims[0] == 3 && in.dims[1] == 3 && in.dims[2] == 2 && in.dims[3] == 3);
	const float *x = in.data;
	/* INPUT[n][c][y][x] = pixel (y, x) channel c of image n, scaled
	 * to [-1, 1]. */
	for (int n = 0; n < 3; n++)
		for (int c = 0; c < 3; c++)
			for (int p = 0; p < 6; p++)
				ASSERT(x[(n * 3 + c) * 6 + p] == px[n][p * 3 + c] * (2.0f / 255.0f) - 1.0f);
	ASSERT(x[0] == -1.0f);
	ASSERT_EQ(mli_record_tensor(&rec, MLI_TAG_TARGET, &tgt, &why), 0);
	static const float want[3][5] = { { 0, 0.9f, 0, 0, -1 }, { 0 }, { 1, 0, 0, 0, 0 } };
	ASSERT(tgt.dims[0] == 3 && tgt.dims[1] == 5);
	ASSERT_MEM_EQ(tgt.data, want, sizeof want);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_KEYS)));
	ASSERT_EQ(f->size, 9);
	ASSERT_MEM_EQ(f->data, "a\0bb\0ccc\0", 9);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_BATCH_LABELS)));
	ASSERT_EQ(f->size, 12 + 3 * 8);
	uint32_t counts[3];
	memcpy(counts, f->data, 12);
	ASSERT(counts[0] == 2 && counts[1] == 0 && counts[2] == 1);
	ASSERT_MEM_EQ(f->data + 12, l0, 16);
	ASSERT_MEM_EQ(f->data + 28, l2, 8);
	ASSERT((f = mli_record_field(&rec, MLI_TAG_VIEWS)));
	uint32_t views[3];
	memcpy(views, f->data, 12);
	ASSERT(views[0] == MLI_VIEW_NONE && views[1] == 7 && views[2] == MLI_VIEW_NONE);
	ASSERT_EQ(mli_reader_next(r, &rec), 0);
	mli_reader_free(r);
	fclose(tmp);
}

/* The dump mode (see the top of the file). */
static int dump(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		struct mli_reader *r;
		struct mli_record rec;
		int rc;

		if (!f)
			return 1;
		r = mli_reader_open(fileno(f), NULL);
		while ((rc = mli_reader_next(r, &rec)) > 0) {
			struct mli_tensor in, tgt = { 0 };
			const struct mli_field *keys = mli_record_field(&rec, MLI_TAG_KEYS);
			const struct mli_field *views = mli_record_field(&rec, MLI_TAG_VIEWS);
			const char *why, *k = keys ? (const char *)keys->data : "";
			double sum = 0;

			if (rec.type != MLI_TYPE_BATCH || mli_record_tensor(&rec, MLI_TAG_INPUT, &in, &why) < 0)
				continue;
			int has_target = mli_record_tensor(&rec, MLI_TAG_TARGET, &tgt, &why) == 0;
			printf("batch %.*s %u %ux%ux%u %s\n", (int)rec.key_len, rec.key, in.dims[0],
			       in.dims[1], in.dims[2], in.dims[3], in.dtype == MLI_DTYPE_U8 ? "uint8" : "float32");
			for (uint32_t n = 0; n < in.dims[0]; n++) {
				uint32_t v = MLI_VIEW_NONE;
				if (views)
					memcpy(&v, views->data + 4 * n, 4);
				printf("%s\t%d", k, v == MLI_VIEW_NONE ? -1 : (int)v);
				k += strlen(k) + 1;
				const char *sep = "\t";
				for (uint32_t c = 0; has_target && c < tgt.dims[1]; c++) {
					float t = ((const float *)tgt.data)[(size_t)n * tgt.dims[1] + c];
					if (t != 0) {
						printf("%s%u:%g", sep, c, t);
						sep = ",";
					}
				}
				printf("\n");
			}
			for (size_t e = 0; e < in.count; e++)
				sum += in.dtype == MLI_DTYPE_U8 ? ((const uint8_t *)in.data)[e]
								: (double)lrintf((((const float *)in.data)[e] + 1) * 127.5f);
			printf("pixels %.0f\n", sum);
		}
		mli_reader_free(r);
		fclose(f);
		if (rc < 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tap t = { 0 }, *tap = &t;

	if (argc > 1 && strcmp(argv[1], "dump") == 0)
		return dump(argc, argv);
	RUN(test_rng_streams);
	RUN(test_shuffle_permutation);
	RUN(test_shuffle_uniform);
	RUN(test_label_matrix);
	RUN(test_dictionaries);
	RUN(test_batch_record);
	return tap_done(tap);
}

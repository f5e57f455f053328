/* mkmosaic: a real multi-label set for the mli-train tests and for
 * pipelines/demo, from Debian's dataset-fashion-mnist, and a small
 * evaluator.
 *
 *   mkmosaic batches IMAGES.gz LABELS.gz COUNT SIZE SEED [FIRST [NAN]]
 *     writes batches FIRST .. COUNT-1 (default all) of SIZE mosaics on
 *     stdout as BATCH records: each mosaic is 2x2 garments at 56x56,
 *     one channel (INPUT uint8 [SIZE, 1, 56, 56]); TARGET float32
 *     [SIZE, 13] marks with 1 the garments present (classes 0-9 as in
 *     Fashion-MNIST) and their parents: 10 tops (T-shirt, pullover,
 *     coat, shirt), 11 footwear (sandal, sneaker, ankle boot), 12 other
 *     (trouser, dress, bag). Batch b depends only on SEED and b, so a
 *     stream can be cut and continued. Batch NAN, if given, has a NaN
 *     target (to test that a NaN loss stops training).
 *   mkmosaic plain IMAGES.gz LABELS.gz SIZE SEED EPOCHS
 *     writes the set itself, single-label, as batches of SIZE: each
 *     garment centred in 32x32 (the network's smallest input), TARGET
 *     one-hot [SIZE, 10]; with SEED > 0 each epoch in a shuffled order
 *     (seed 0: in file order, one epoch, a last short batch kept when it
 *     has 2 images or more).
 *   mkmosaic files IMAGES.gz LABELS.gz COUNT SEED DIR URL
 *     writes COUNT such mosaics as files DIR/NNNNNN.png (8-bit gray PNG,
 *     56x56), and on stdout their list in the original release's format,
 *     one line "URL/NNNNNN.png<TAB>class:1<TAB>..." per file, classes in
 *     increasing order (the garments present, then their parents). File
 *     i depends only on SEED and i. Progress on stderr when it is a
 *     terminal; a line at the end says how many files were written.
 *   mkmosaic dictionary
 *     writes the 13 classes as a dictionary in the format of the
 *     release's dictionary_and_semantic_hierarchy.txt: a header line,
 *     then "index<TAB>WordNet id<TAB>parent index<TAB>name" per class.
 *     The WordNet ids are those of the release's dictionary for the same
 *     things (T-shirt n03595614, ..., "other" the id of artifact).
 *   mkmosaic random COUNT N C H W CLASSES SEED
 *     writes COUNT batches of N random images [N, C, H, W] with about 5
 *     random positive classes each (for benchmarks: speed, not learning).
 *   mkmosaic eval CHECKPOINT < batches
 *     runs the checkpoint's network (inference batch norm) on the
 *     batches and prints "mAP X" (mean over classes of the average
 *     precision of the scores), "chance Y" (the mAP random scores would
 *     get: the mean share of positives), "images N" and "top1 A" (the
 *     share of images whose highest score is their highest target: the
 *     accuracy, for single-label data). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "mli.h"
#include "random.h"
#include "resnet.h"
#include "trainstate.h"

#define CLASSES 13

/* The parent of each garment class: 10 tops, 11 footwear, 12 other. */
static const int parent[10] = { 10, 12, 10, 12, 10, 11, 10, 11, 12, 11 };

/* The classes: Fashion-MNIST's names, the parents' names, and the WordNet
 * ids the release's dictionary gives these things (jersey/T-shirt,
 * trouser/pant, pullover, dress, coat, sandal, shirt, running shoe, bag,
 * boot; top, footwear, and for "other" artifact). */
static const char *const class_name[CLASSES] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
	"Sneaker", "Bag", "Ankle boot", "tops", "footwear", "other"
};
static const char *const class_wnid[CLASSES] = {
	"n03595614", "n04489008", "n04021028", "n03236735", "n03057021", "n04133789",
	"n04197391", "n04120489", "n02774152", "n02872752", "n04453666", "n03381126",
	"n00021939"
};

static void die(const char *what)
{
	fprintf(stderr, "mkmosaic: %s\n", what);
	exit(1);
}

/* Reads a gzipped IDX file through gzip -dc; *n items of `item` bytes. */
static uint8_t *read_idx(const char *path, size_t header, size_t item, size_t *n)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
	FILE *f = popen(cmd, "r");
	size_t cap = 1 << 20, len = 0;
	uint8_t *b = malloc(cap);
	if (!f || !b)
		die("cannot read the data set");
	for (;;) {
		if (len == cap && !(b = realloc(b, cap *= 2)))
			die("out of memory");
		size_t got = fread(b + len, 1, cap - len, f);
		if (!got)
			break;
		len += got;
	}
	if (pclose(f) != 0 || len < header)
		die("cannot read the data set (gzip failed)");
	*n = (len - header) / item;
	memmove(b, b + header, len - header);
	return b;
}

static int batches(int argc, char **argv)
{
	if (argc < 7)
		die("usage: mkmosaic batches IMAGES.gz LABELS.gz COUNT SIZE SEED [FIRST]");
	size_t n_img, n_lab;
	uint8_t *img = read_idx(argv[2], 16, 28 * 28, &n_img);
	uint8_t *lab = read_idx(argv[3], 8, 1, &n_lab);
	long count = atol(argv[4]), size = atol(argv[5]), first = argc > 7 ? atol(argv[7]) : 0;
	long nan_at = argc > 8 ? atol(argv[8]) : -1;
	uint64_t seed = strtoull(argv[6], NULL, 10);
	struct mli_writer *w = mli_writer_open(1, NULL);

	if (n_img != n_lab || !n_img || !w || size < 2)
		die("bad data set or arguments");
	for (long b = first; b < count; b++) {
		struct mli_rng r;
		char key[64];
		uint32_t idims[4] = { (uint32_t)size, 1, 56, 56 }, tdims[2] = { (uint32_t)size, CLASSES };
		uint8_t *in;
		float *tg;
		mli_rng_init(&r, seed, NULL, 0, (uint64_t)b);
		int len = snprintf(key, sizeof key, "mosaic-%ld", b);
		if (mli_writer_begin(w, MLI_TYPE_BATCH) < 0 || mli_writer_key(w, key, (size_t)len) < 0 ||
		    mli_writer_tensor_reserve(w, MLI_TAG_INPUT, MLI_DTYPE_U8, 4, idims, (void **)&in) < 0)
			die("write failed");
		for (long i = 0; i < size; i++)
			for (int q = 0; q < 4; q++) {
				size_t k = (size_t)mli_rng_below(&r, n_img);
				const uint8_t *src = img + k * 784;
				uint8_t *dst = in + i * 56 * 56 + (q / 2) * 28 * 56 + (q % 2) * 28;
				for (int y = 0; y < 28; y++)
					memcpy(dst + y * 56, src + y * 28, 28);
			}
		/* The labels again from the same draws: replay the stream. */
		mli_rng_init(&r, seed, NULL, 0, (uint64_t)b);
		if (mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tdims, (void **)&tg) < 0)
			die("write failed");
		memset(tg, 0, (size_t)size * CLASSES * sizeof *tg);
		for (long i = 0; i < size; i++)
			for (int q = 0; q < 4; q++) {
				int c = lab[mli_rng_below(&r, n_img)];
				tg[i * CLASSES + c] = 1.0f;
				tg[i * CLASSES + parent[c]] = 1.0f;
			}
		if (b == nan_at)
			tg[0] = NAN;
		if (mli_writer_end(w) < 0)
			die("write failed");
	}
	if (mli_writer_finish(w) < 0)
		die("write failed");
	mli_writer_free(w);
	free(img);
	free(lab);
	return 0;
}

static int plain(int argc, char **argv)
{
	if (argc < 7)
		die("usage: mkmosaic plain IMAGES.gz LABELS.gz SIZE SEED EPOCHS");
	size_t n_img, n_lab;
	uint8_t *img = read_idx(argv[2], 16, 28 * 28, &n_img);
	uint8_t *lab = read_idx(argv[3], 8, 1, &n_lab);
	size_t size = (size_t)atol(argv[4]);
	uint64_t seed = strtoull(argv[5], NULL, 10);
	long epochs = seed ? atol(argv[6]) : 1;
	struct mli_writer *w = mli_writer_open(1, NULL);
	size_t *order = malloc(n_img * sizeof *order);
	long b = 0;

	if (n_img != n_lab || !w || !order || size < 2)
		die("bad data set or arguments");
	for (long e = 0; e < epochs; e++) {
		struct mli_rng r;
		for (size_t i = 0; i < n_img; i++)
			order[i] = i;
		mli_rng_init(&r, seed, "plain", 5, (uint64_t)e);
		for (size_t i = n_img; seed && i > 1; i--) {
			size_t j = (size_t)mli_rng_below(&r, i), t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t at = 0; at + 2 <= n_img; at += size, b++) {
			size_t m = n_img - at < size ? n_img - at : size;
			if (seed && m < size)
				break;
			uint32_t idims[4] = { (uint32_t)m, 1, 32, 32 }, tdims[2] = { (uint32_t)m, 10 };
			uint8_t *in;
			float *tg;
			char key[64];
			int len = snprintf(key, sizeof key, "plain-%ld", b);
			if (mli_writer_begin(w, MLI_TYPE_BATCH) < 0 ||
			    mli_writer_key(w, key, (size_t)len) < 0 ||
			    mli_writer_tensor_reserve(w, MLI_TAG_INPUT, MLI_DTYPE_U8, 4, idims,
						      (void **)&in) < 0)
				die("write failed");
			memset(in, 0, m * 32 * 32);
			for (size_t i = 0; i < m; i++)
				for (int y = 0; y < 28; y++)
					memcpy(in + i * 1024 + (y + 2) * 32 + 2,
					       img + order[at + i] * 784 + y * 28, 28);
			if (mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tdims,
						      (void **)&tg) < 0)
				die("write failed");
			memset(tg, 0, m * 10 * sizeof *tg);
			for (size_t i = 0; i < m; i++)
				tg[i * 10 + lab[order[at + i]]] = 1.0f;
			if (mli_writer_end(w) < 0)
				die("write failed");
		}
	}
	if (mli_writer_finish(w) < 0)
		die("write failed");
	mli_writer_free(w);
	free(order);
	free(img);
	free(lab);
	return 0;
}

static int files(int argc, char **argv)
{
	if (argc < 8)
		die("usage: mkmosaic files IMAGES.gz LABELS.gz COUNT SEED DIR URL");
	size_t n_img, n_lab;
	uint8_t *img = read_idx(argv[2], 16, 28 * 28, &n_img);
	uint8_t *lab = read_idx(argv[3], 8, 1, &n_lab);
	long count = atol(argv[4]);
	uint64_t seed = strtoull(argv[5], NULL, 10);
	const char *dir = argv[6], *url = argv[7];
	uint8_t px[56 * 56]; /* [56, 56] gray */
	struct mli_progress prog;
	uint64_t bytes = 0;

	if (n_img != n_lab || !n_img || count < 1)
		die("bad data set or arguments");
	mli_progress_init(&prog, stderr, "mkmosaic", "files", isatty(2), 0);
	for (long i = 0; i < count; i++) {
		struct mli_rng r;
		int present[CLASSES] = { 0 };
		char path[4096];
		uint8_t *png;
		size_t len;
		FILE *f;

		mli_rng_init(&r, seed, "files", 5, (uint64_t)i);
		for (int q = 0; q < 4; q++) {
			size_t k = (size_t)mli_rng_below(&r, n_img);
			for (int y = 0; y < 28; y++)
				memcpy(px + ((q / 2) * 28 + y) * 56 + (q % 2) * 28, img + k * 784 + y * 28,
				       28);
			present[lab[k]] = present[parent[lab[k]]] = 1;
		}
		if (mli_png_encode(px, 56, 56, 1, &png, &len) < 0)
			die("cannot encode a PNG");
		snprintf(path, sizeof path, "%s/%06ld.png", dir, i);
		if (!(f = fopen(path, "wb")) || fwrite(png, 1, len, f) != len || fclose(f) != 0)
			die("cannot write a mosaic file");
		free(png);
		bytes += len;
		mli_progress_update(&prog, (uint64_t)i + 1, bytes, 0);
		printf("%s/%06ld.png", url, i);
		for (int c = 0; c < CLASSES; c++)
			if (present[c])
				printf("\t%d:1", c);
		putchar('\n');
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write the list");
	mli_progress_end(&prog);
	fprintf(stderr, "mkmosaic: %ld files in %s, %.1f MiB\n", count, dir, (double)bytes / 1048576.0);
	free(img);
	free(lab);
	return 0;
}

static int dictionary(void)
{
	printf("category_index\tcategory_id\tindex_of_parent_category\tcategory name\n");
	for (int c = 0; c < CLASSES; c++)
		printf("%d\t%s\t%d\t%s\n", c, class_wnid[c], c < 10 ? parent[c] : -1, class_name[c]);
	return fflush(stdout) != 0 || ferror(stdout);
}

static int random_batches(int argc, char **argv)
{
	if (argc < 9)
		die("usage: mkmosaic random COUNT N C H W CLASSES SEED");
	long count = atol(argv[2]);
	uint32_t n = (uint32_t)atol(argv[3]), c = (uint32_t)atol(argv[4]), h = (uint32_t)atol(argv[5]),
		 wd = (uint32_t)atol(argv[6]), k = (uint32_t)atol(argv[7]);
	uint64_t seed = strtoull(argv[8], NULL, 10);
	struct mli_writer_options wo = { -1 };
	struct mli_writer *w = mli_writer_open(1, &wo);
	if (!w || n < 1 || !c || !h || !wd || !k)
		die("bad arguments");
	for (long b = 0; b < count; b++) {
		struct mli_rng r;
		uint32_t idims[4] = { n, c, h, wd }, tdims[2] = { n, k };
		uint8_t *in;
		float *tg;
		char key[64];
		int len = snprintf(key, sizeof key, "random-%ld", b);
		mli_rng_init(&r, seed, NULL, 0, (uint64_t)b);
		if (mli_writer_begin(w, MLI_TYPE_BATCH) < 0 || mli_writer_key(w, key, (size_t)len) < 0 ||
		    mli_writer_tensor_reserve(w, MLI_TAG_INPUT, MLI_DTYPE_U8, 4, idims, (void **)&in) < 0)
			die("write failed");
		for (size_t i = 0; i < (size_t)n * c * h * wd; i += 8) {
			uint64_t x = mli_rng_next(&r);
			for (size_t j = 0; j < 8 && i + j < (size_t)n * c * h * wd; j++)
				in[i + j] = (uint8_t)(x >> (8 * j));
		}
		if (mli_writer_tensor_reserve(w, MLI_TAG_TARGET, MLI_DTYPE_F32, 2, tdims, (void **)&tg) < 0)
			die("write failed");
		memset(tg, 0, (size_t)n * k * sizeof *tg);
		for (uint32_t i = 0; i < n; i++)
			for (int p = 0; p < 5; p++)
				tg[(size_t)i * k + mli_rng_below(&r, k)] = 1.0f;
		if (mli_writer_end(w) < 0)
			die("write failed");
	}
	if (mli_writer_finish(w) < 0)
		die("write failed");
	mli_writer_free(w);
	return 0;
}

struct scored {
	float score;
	float target;
};

static int by_score(const void *a, const void *b)
{
	float x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return x > y ? -1 : x < y;
}

static int eval(int argc, char **argv)
{
	struct mli_ckpt *c;
	const char *why;
	char whybuf[256];
	struct mli_resnet_config cfg = { 0 };
	struct mli_resnet *net = NULL;
	struct mli_pool *pool;
	struct mli_reader *r = mli_reader_open(0, NULL);
	struct mli_record rec;
	struct mli_tensor in, tg;
	struct scored *s = NULL;
	size_t n = 0, cap = 0, classes = 0;

	if (argc < 3 || mli_ckpt_open(&c, argv[2], &why) < 0)
		die("usage: mkmosaic eval CHECKPOINT < batches (checkpoint unreadable)");
	if (mli_pool_create(&pool, mli_pool_threads_from_env() > 0 ? mli_pool_threads_from_env() : 0) < 0 || !r)
		die("out of memory");
	while (mli_reader_next(r, &rec) == 1) {
		if (mli_record_tensor(&rec, MLI_TAG_INPUT, &in, &why) < 0 ||
		    mli_record_tensor(&rec, MLI_TAG_TARGET, &tg, &why) < 0 || in.dtype != MLI_DTYPE_U8)
			die("not a uint8 batch");
		if (!net) {
			mli_resnet_arch(mli_ckpt_meta(c, "arch"), &cfg);
			cfg.width = (size_t)atol(mli_ckpt_meta(c, "width"));
			cfg.classes = classes = tg.dims[1];
			cfg.in_c = in.dims[1];
			cfg.in_h = in.dims[2];
			cfg.in_w = in.dims[3];
			cfg.batch = in.dims[0];
			cfg.bn_decay = 0.997f;
			cfg.bn_eps = 1e-5f;
			if (mli_resnet_create(&net, &cfg, mli_kernels_select()) < 0 ||
			    mli_trainstate_load(c, net, NULL, NULL, 0, whybuf, sizeof whybuf) < 0)
				die("checkpoint does not fit the batches");
		}
		size_t b = in.dims[0];
		mli_resnet_input_u8(net, b, in.data);
		if (mli_resnet_forward(net, pool, b, 0) < 0)
			die("forward failed");
		if (n + b * classes > cap) {
			cap = 2 * (n + b * classes);
			s = realloc(s, cap * sizeof *s);
		}
		/* Stored class-major later; here row-major pairs. */
		for (size_t i = 0; i < b * classes; i++) {
			s[n + i].score = net->logits[i];
			s[n + i].target = ((const float *)tg.data)[i];
		}
		n += b * classes;
	}
	size_t images = n / classes, top1 = 0;
	double map = 0, chance = 0;
	for (size_t i = 0; i < images; i++) {
		size_t bs = 0, bt = 0;
		for (size_t j = 1; j < classes; j++) {
			bs = s[i * classes + j].score > s[i * classes + bs].score ? j : bs;
			bt = s[i * classes + j].target > s[i * classes + bt].target ? j : bt;
		}
		top1 += bs == bt;
	}
	struct scored *col = malloc(images * sizeof *col);
	for (size_t j = 0; j < classes; j++) {
		size_t pos = 0, hit = 0;
		double ap = 0;
		for (size_t i = 0; i < images; i++)
			col[i] = s[i * classes + j];
		qsort(col, images, sizeof *col, by_score);
		for (size_t i = 0; i < images; i++)
			pos += col[i].target >= 0.5f;
		for (size_t i = 0; i < images; i++)
			if (col[i].target >= 0.5f)
				ap += (double)++hit / (double)(i + 1);
		map += pos ? ap / (double)pos : 0;
		chance += (double)pos / (double)images;
	}
	printf("mAP %.4f\nchance %.4f\nimages %zu\ntop1 %.4f\n", map / (double)classes,
	       chance / (double)classes, images, (double)top1 / (double)images);
	free(col);
	free(s);
	mli_resnet_free(net);
	mli_ckpt_free(c);
	mli_pool_destroy(pool);
	mli_reader_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "batches") == 0)
		return batches(argc, argv);
	if (argc > 1 && strcmp(argv[1], "plain") == 0)
		return plain(argc, argv);
	if (argc > 1 && strcmp(argv[1], "files") == 0)
		return files(argc, argv);
	if (argc > 1 && strcmp(argv[1], "dictionary") == 0)
		return dictionary();
	if (argc > 1 && strcmp(argv[1], "random") == 0)
		return random_batches(argc, argv);
	if (argc > 1 && strcmp(argv[1], "eval") == 0)
		return eval(argc, argv);
	die("usage: mkmosaic batches|plain|files|dictionary|random|eval ...");
	return 2;
}

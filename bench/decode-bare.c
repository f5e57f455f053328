/* decode-bare: libjpeg-turbo's own decode, in one process, the limit that
 * mli-decode is measured against in bench/decode.
 *
 *   decode-bare [-f] SHORT_SIDE THREADS ROUNDS FILE...
 *
 * Reads every FILE into memory, then decodes each ROUNDS times at the
 * DCT scale mli-decode would choose for SHORT_SIDE (the smallest of 1/8,
 * 1/4, 1/2, 1 still covering it; 0: full size) to RGB, with libjpeg's
 * default IDCT and upsampling as mli-decode (-f: the fast IDCT and plain
 * upsampling of mli-decode --fast), on THREADS threads splitting the
 * files, and prints "images seconds images/s cpu-seconds" (the last the
 * process's CPU time over the decodes). No resize, no orientation, no
 * frames: only the decode. */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jpeglib.h>

struct file {
	unsigned char *data;
	unsigned long len;
};

struct work {
	struct file *files;
	int n, first, step, rounds;
	unsigned side;
	int fast;
	long done;
};

struct err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

static void on_error(j_common_ptr c)
{
	longjmp(((struct err *)c->err)->jb, 1);
}

static void decode(const struct file *f, unsigned side, int fast, unsigned char **buf, size_t *cap)
{
	struct jpeg_decompress_struct d;
	struct err e;
	int m;

	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = on_error;
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		return;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, f->data, f->len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	for (m = 1; m < 8; m *= 2) {
		unsigned w = (d.image_width * m + 7) / 8, h = (d.image_height * m + 7) / 8;
		if (side && (w < h ? w : h) >= side)
			break;
	}
	d.scale_num = (unsigned)m;
	d.scale_denom = 8;
	if (fast) {
		d.do_fancy_upsampling = FALSE;
		d.dct_method = JDCT_IFAST;
	}
	jpeg_start_decompress(&d);
	size_t need = (size_t)d.output_width * d.output_height * 3;
	if (need > *cap) {
		free(*buf);
		*buf = malloc(need);
		*cap = need;
	}
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = *buf + (size_t)d.output_scanline * d.output_width * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
}

static void *run(void *arg)
{
	struct work *w = arg;
	unsigned char *buf = NULL;
	size_t cap = 0;

	for (int r = 0; r < w->rounds; r++)
		for (int i = w->first; i < w->n; i += w->step, w->done++)
			decode(&w->files[i], w->side, w->fast, &buf, &cap);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1, c0, c1;
	struct file *files;
	struct work *works;
	pthread_t *th;
	int n, threads, rounds, fast = 0;
	long total = 0;
	double s, cpu;

	if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'f') {
		fast = 1;
		argv++;
		argc--;
	}
	if (argc < 5)
		return 2;
	threads = atoi(argv[2]);
	rounds = atoi(argv[3]);
	n = argc - 4;
	files = calloc((size_t)n, sizeof *files);
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(argv[4 + i], "rb");
		if (!f || fseek(f, 0, SEEK_END) < 0)
			return 1;
		files[i].len = (unsigned long)ftell(f);
		rewind(f);
		files[i].data = malloc(files[i].len);
		if (fread(files[i].data, 1, files[i].len, f) != files[i].len)
			return 1;
		fclose(f);
	}
	works = calloc((size_t)threads, sizeof *works);
	th = calloc((size_t)threads, sizeof *th);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (int t = 0; t < threads; t++) {
		works[t] = (struct work){ files, n, t, threads, rounds, (unsigned)atoi(argv[1]), fast, 0 };
		pthread_create(&th[t], NULL, run, &works[t]);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		total += works[t].done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf("%ld %.4f %.1f %.4f\n", total, s, total / s, cpu);
	return 0;
}

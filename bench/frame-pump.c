/* frame-pump.c: the frame layer's benchmark driver.
 *
 *   frame-pump gen jpeg|pixels COUNT PHOTO.jpg > units   payloads to push
 *   frame-pump write [LEVEL] < units > stream           units as records
 *   frame-pump read < stream                            check and count
 *
 * A units file is the payloads alone, each preceded by its 4-byte
 * little-endian length, so that the peers (cat, zstd) move the same bytes
 * as the frame layer. "jpeg" units are JPEG files of about 150 KB (crops
 * of a real photograph at quality 90, no two alike); "pixels" units are
 * 224x224x3 tiles of the same photograph, side by side without overlap,
 * so that a compressor sees no more redundancy between two units than it
 * would between two photographs (the tiles repeat only after the whole
 * photograph, far beyond any zstd window at these levels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jpeglib.h>

#include "mli.h"

struct photo {
	uint8_t *rgb;   /* (height, width, 3) */
	unsigned width, height;
};

static void die(const char *what)
{
	fprintf(stderr, "frame-pump: %s\n", what);
	exit(1);
}

static struct photo decode(const char *path, unsigned scale_denom)
{
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr jerr;
	struct photo p;
	FILE *f = fopen(path, "rb");

	if (!f)
		die("cannot open the photograph");
	d.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&d);
	jpeg_stdio_src(&d, f);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	d.scale_num = 1;
	d.scale_denom = scale_denom;
	jpeg_start_decompress(&d);
	p.width = d.output_width;
	p.height = d.output_height;
	p.rgb = malloc((size_t)p.width * p.height * 3);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = p.rgb + (size_t)d.output_scanline * p.width * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	fclose(f);
	return p;
}

static void put_unit(const void *data, uint32_t len)
{
	uint8_t le[4];

	mli_store32(le, len);
	if (mli_write_full(STDOUT_FILENO, le, 4) < 0 || mli_write_full(STDOUT_FILENO, data, len) < 0)
		die("write failed");
}

/* A crop of w x h at (x, y), encoded as a JPEG at quality 90. */
static void put_jpeg_crop(const struct photo *p, unsigned x, unsigned y, unsigned w, unsigned h)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long out_len = 0;

	c.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &out_len);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < h) {
		JSAMPROW row = p->rgb + ((size_t)(y + c.next_scanline) * p->width + x) * 3;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	put_unit(out, (uint32_t)out_len);
	free(out);
}

static void gen(const char *kind, long count, const char *path)
{
	int jpeg = strcmp(kind, "jpeg") == 0;
	struct photo p = decode(path, 1);
	unsigned w = jpeg ? 1120 : 224, h = jpeg ? 840 : 224;
	uint8_t *crop = malloc((size_t)w * h * 3);
	unsigned across = p.width / w, down = p.height / h;

	if (p.width < w + 64 || p.height < h + 64)
		die("photograph too small");
	for (long i = 0; i < count; i++) {
		unsigned x, y;
		if (jpeg) {
			/* Offsets that are not multiples of 8 give every crop its
			 * own DCT blocks, so no two files share a run of bytes. */
			x = (unsigned)((i * 37) % (p.width - w));
			y = (unsigned)((i * 53) % (p.height - h));
			put_jpeg_crop(&p, x, y, w, h);
			continue;
		}
		x = (unsigned)(i % across) * w;
		y = (unsigned)((i / across) % down) * h;
		for (unsigned r = 0; r < h; r++)
			memcpy(crop + (size_t)r * w * 3, p.rgb + ((size_t)(y + r) * p.width + x) * 3, (size_t)w * 3);
		put_unit(crop, w * h * 3);
	}
	free(crop);
	free(p.rgb);
}

/* Units on stdin become records on stdout: ENCODED records for JPEG
 * units, IMAGE records of 224x224x3 for the others. */
static void write_stream(int level)
{
	struct mli_writer_options o = { level };
	struct mli_writer *w = mli_writer_open(STDOUT_FILENO, &o);
	uint8_t le[4], *buf = malloc(1 << 24);
	uint32_t dims[3] = { 224, 224, 3 };
	char key[32];
	long n = 0;

	while (mli_read_full(STDIN_FILENO, le, 4) == 4) {
		uint32_t len = mli_load32(le);
		int rc;

		if (len > (1 << 24) || mli_read_full(STDIN_FILENO, buf, len) != (ssize_t)len)
			die("bad units file");
		snprintf(key, sizeof key, "unit-%ld", n++);
		rc = mli_writer_begin(w, len == 224 * 224 * 3 ? MLI_TYPE_IMAGE : MLI_TYPE_ENCODED);
		if (rc == 0)
			rc = mli_writer_key(w, key, strlen(key));
		if (rc == 0 && len == 224 * 224 * 3) {
			void *px;
			if ((rc = mli_writer_tensor_reserve(w, MLI_TAG_PIXELS, MLI_DTYPE_U8, 3, dims, &px)) == 0)
				memcpy(px, buf, len);
		} else if (rc == 0) {
			if ((rc = mli_writer_field(w, MLI_TAG_BLOB, buf, len)) == 0)
				rc = mli_writer_field(w, MLI_TAG_MEDIA, "image/jpeg", 10);
		}
		if (rc < 0 || (rc = mli_writer_end(w)) < 0)
			die(mli_strerror(rc));
	}
	if (mli_writer_finish(w) < 0)
		die("write failed");
	mli_writer_free(w);
	free(buf);
}

static void read_stream(void)
{
	struct mli_reader *r = mli_reader_open(STDIN_FILENO, NULL);
	struct mli_record rec;
	uint64_t bytes = 0;
	int rc;

	while ((rc = mli_reader_next(r, &rec)) > 0) {
		const struct mli_field *f = mli_record_field(&rec, MLI_TAG_BLOB);
		if (!f)
			f = mli_record_field(&rec, MLI_TAG_PIXELS);
		bytes += f->size;
	}
	if (rc < 0)
		die(mli_reader_message(r));
	fprintf(stderr, "frame-pump: %llu records, %llu payload bytes\n",
		(unsigned long long)mli_reader_stats(r)->records, (unsigned long long)bytes);
	mli_reader_free(r);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		gen(argv[2], atol(argv[3]), argv[4]);
	else if (argc >= 2 && argc <= 3 && strcmp(argv[1], "write") == 0)
		write_stream(argc == 3 ? atoi(argv[2]) : 0);
	else if (argc == 2 && strcmp(argv[1], "read") == 0)
		read_stream();
	else {
		fprintf(stderr, "usage: frame-pump gen jpeg|pixels COUNT PHOTO | write [LEVEL] | read\n");
		return 2;
	}
	return 0;
}

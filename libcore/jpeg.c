/* jpeg.c: libjpeg-turbo behind return values.
 *
 * Each entry point that calls libjpeg sets a jmp_buf first; the error
 * manager's error_exit (and emit_message, for warnings, unless lenient)
 * records why and jumps back. Buffers that must be freed after a jump are
 * kept in the struct, not in locals. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "error.h"
#include "exif.h"
#include "jpeg.h"

/* Our reason for a jump that libjpeg did not start: the scan cap. */
#define SCAN_CAP_CODE (-1)

struct errmgr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int lenient;
	int code;             /* libjpeg's msg_code, or SCAN_CAP_CODE */
	char detail[JMSG_LENGTH_MAX];
};

struct mli_jpeg {
	struct jpeg_decompress_struct d;  /* first: the callbacks cast back to it */
	struct errmgr e;
	struct jpeg_progress_mgr progress;
	int max_scans;
	int cmyk;             /* decode as CMYK, convert to RGB here */
	int started;          /* mli_jpeg_start was called */
	int failed;           /* libjpeg jumped out: its state is not to be used */
	uint8_t *pixels;      /* mli_jpeg_decode's output until returned */
	uint8_t *row;         /* a CMYK row [width, 4] */
	uint8_t **rows;       /* [height]: rows of pixels */
	struct mli_jpeg_info info;
};

static void on_error(j_common_ptr c)
{
	struct errmgr *e = (struct errmgr *)c->err;

	e->code = e->pub.msg_code;
	e->pub.format_message(c, e->detail);
	longjmp(e->jb, 1);
}

/* Warnings (level -1) end the decode unless lenient; trace messages
 * (level >= 0) are dropped. Nothing is printed either way. */
static void on_message(j_common_ptr c, int level)
{
	struct errmgr *e = (struct errmgr *)c->err;

	if (level >= 0)
		return;
	e->pub.num_warnings++;
	if (e->lenient)
		return;
	on_error(c);
}

static void on_output(j_common_ptr c)
{
	(void)c;
}

static void on_progress(j_common_ptr c)
{
	struct mli_jpeg *j = (struct mli_jpeg *)c;

	if (j->max_scans && j->d.input_scan_number > j->max_scans) {
		j->e.code = SCAN_CAP_CODE;
		snprintf(j->e.detail, sizeof j->e.detail, "more than %d scans", j->max_scans);
		longjmp(j->e.jb, 1);
	}
}

static void fault_from_code(const struct errmgr *e, struct mli_fault *f)
{
	int reason;

	switch (e->code) {
	case SCAN_CAP_CODE:
		reason = MLI_FAULT_SCANS;
		break;
	case JWRN_JPEG_EOF:
	case JERR_INPUT_EOF:
	case JERR_INPUT_EMPTY:
		reason = MLI_FAULT_TRUNCATED;
		break;
	case JERR_NO_SOI:
	case JERR_CONVERSION_NOTIMPL:
	case JERR_BAD_J_COLORSPACE:
	case JERR_BAD_PRECISION:
		reason = MLI_FAULT_FORMAT;
		break;
	case JERR_IMAGE_TOO_BIG:
	case JERR_WIDTH_OVERFLOW:
		reason = MLI_FAULT_BOMB;
		break;
	case JERR_OUT_OF_MEMORY:
		reason = MLI_FAULT_NOMEM;
		break;
	default:
		reason = MLI_FAULT_CORRUPT;
		break;
	}
	mli_fault_set(f, reason, "%s", e->detail);
}

static void errmgr_init(struct errmgr *e, int lenient)
{
	jpeg_std_error(&e->pub);
	e->pub.error_exit = on_error;
	e->pub.emit_message = on_message;
	e->pub.output_message = on_output;
	e->lenient = lenient;
	e->code = 0;
	e->detail[0] = '\0';
}

static int orientation(j_decompress_ptr d)
{
	for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
		if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6))
			return mli_exif_orientation(m->data, m->data_length);
	return 1;
}

void mli_jpeg_close(struct mli_jpeg *j)
{
	if (!j)
		return;
	jpeg_destroy_decompress(&j->d);
	free(j->pixels);
	free(j->row);
	free(j->rows);
	free(j);
}

int mli_jpeg_open(struct mli_jpeg **jp, const uint8_t *data, size_t len, int max_scans,
		  int lenient, struct mli_jpeg_info *info, struct mli_fault *f)
{
	struct mli_jpeg *j;

	*jp = NULL;
	if (len == 0) {
		mli_fault_set(f, MLI_FAULT_EMPTY, "no bytes");
		return MLI_EINVAL;
	}
	if (!(j = calloc(1, sizeof *j))) {
		mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
		return MLI_ENOMEM;
	}
	errmgr_init(&j->e, lenient);
	j->max_scans = max_scans;
	j->d.err = &j->e.pub;
	if (setjmp(j->e.jb)) {
		fault_from_code(&j->e, f);
		mli_jpeg_close(j);
		return f->reason == MLI_FAULT_NOMEM ? MLI_ENOMEM : MLI_EINVAL;
	}
	jpeg_create_decompress(&j->d);
	j->progress.progress_monitor = on_progress;
	j->d.progress = &j->progress;
	jpeg_mem_src(&j->d, data, (unsigned long)len);
	jpeg_save_markers(&j->d, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&j->d, TRUE);

	switch (j->d.jpeg_color_space) {
	case JCS_GRAYSCALE:
	case JCS_YCbCr:
	case JCS_RGB:
		j->d.out_color_space = JCS_RGB;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		j->d.out_color_space = JCS_CMYK;
		j->cmyk = 1;
		break;
	default:
		mli_fault_set(f, MLI_FAULT_FORMAT, "unsupported colour space (%d components)",
			      j->d.num_components);
		mli_jpeg_close(j);
		return MLI_EINVAL;
	}
	j->info.width = j->d.image_width;
	j->info.height = j->d.image_height;
	j->info.components = j->d.num_components;
	j->info.progressive = j->d.progressive_mode;
	j->info.orientation = orientation(&j->d);
	*info = j->info;
	*jp = j;
	return 0;
}

void mli_jpeg_scaled_size(const struct mli_jpeg *j, int m, uint32_t *width, uint32_t *height)
{
	/* libjpeg-turbo's jpeg_calc_output_dimensions for scale m/8. */
	*width = (uint32_t)(((uint64_t)j->info.width * (uint64_t)m + 7) / 8);
	*height = (uint32_t)(((uint64_t)j->info.height * (uint64_t)m + 7) / 8);
}

/* Adobe's CMYK (and YCCK after libjpeg's conversion to CMYK) is stored
 * inverted: 255 means no ink. Without an Adobe marker the values are
 * taken as ink amounts. Either way RGB = (1 - C)(1 - K) and so on. */
static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, uint32_t n, int inverted)
{
	for (uint32_t i = 0; i < n; i++, src += 4, dst += 3) {
		unsigned c = src[0], m = src[1], y = src[2], k = src[3];
		if (!inverted) {
			c = 255 - c;
			m = 255 - m;
			y = 255 - y;
			k = 255 - k;
		}
		dst[0] = (uint8_t)((c * k + 127) / 255);
		dst[1] = (uint8_t)((m * k + 127) / 255);
		dst[2] = (uint8_t)((y * k + 127) / 255);
	}
}

int mli_jpeg_start(struct mli_jpeg *j, int m, int fast, uint32_t *width, uint32_t *height,
		   struct mli_fault *f)
{
	if (j->started || m < 1 || m > 16)
		return MLI_EINVAL;
	j->started = 1;
	if (setjmp(j->e.jb)) {
		j->failed = 1;
		fault_from_code(&j->e, f);
		return f->reason == MLI_FAULT_NOMEM ? MLI_ENOMEM : MLI_EINVAL;
	}
	j->d.scale_num = (unsigned)m;
	j->d.scale_denom = 8;
	if (fast) {
		j->d.do_fancy_upsampling = FALSE;
		j->d.dct_method = JDCT_IFAST;
	}
	jpeg_start_decompress(&j->d);
	if (j->cmyk && !(j->row = malloc((size_t)j->d.output_width * 4))) {
		mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
		return MLI_ENOMEM;
	}
	*width = j->d.output_width;
	*height = j->d.output_height;
	return 0;
}

int mli_jpeg_read(struct mli_jpeg *j, uint8_t **rows, uint32_t n, uint32_t *got, struct mli_fault *f)
{
	*got = 0;
	if (!j->started || j->failed)
		return MLI_EINVAL;
	/* Before the setjmp: n is not to change after it. */
	if (n > j->d.output_height - j->d.output_scanline)
		n = j->d.output_height - j->d.output_scanline;
	if (setjmp(j->e.jb)) {
		j->failed = 1;
		fault_from_code(&j->e, f);
		return f->reason == MLI_FAULT_NOMEM ? MLI_ENOMEM : MLI_EINVAL;
	}
	if (j->cmyk) {
		/* A row at a time through the CMYK row. */
		JSAMPROW row = j->row;
		for (uint32_t k = 0; k < n; k++) {
			jpeg_read_scanlines(&j->d, &row, 1);
			cmyk_to_rgb(j->row, rows[k], j->d.output_width, j->d.saw_Adobe_marker);
		}
		*got = n;
		return 0;
	}
	*got = jpeg_read_scanlines(&j->d, (JSAMPARRAY)rows, n);
	return 0;
}

int mli_jpeg_finish(struct mli_jpeg *j, struct mli_fault *f)
{
	if (!j->started || j->failed || j->d.output_scanline < j->d.output_height)
		return MLI_EINVAL;
	if (setjmp(j->e.jb)) {
		j->failed = 1;
		fault_from_code(&j->e, f);
		return f->reason == MLI_FAULT_NOMEM ? MLI_ENOMEM : MLI_EINVAL;
	}
	jpeg_finish_decompress(&j->d);
	return 0;
}

int mli_jpeg_decode(struct mli_jpeg *j, int m, int fast, uint8_t **pixels, uint32_t *width,
		    uint32_t *height, struct mli_fault *f)
{
	uint32_t w, h, got;
	size_t stride;
	int rc;

	*pixels = NULL;
	if ((rc = mli_jpeg_start(j, m, fast, &w, &h, f)) < 0)
		return rc;
	stride = (size_t)w * 3;
	j->pixels = malloc(stride * h);
	j->rows = malloc(sizeof *j->rows * h);
	if (!j->pixels || !j->rows) {
		mli_fault_set(f, MLI_FAULT_NOMEM, "out of memory");
		return MLI_ENOMEM;
	}
	for (uint32_t y = 0; y < h; y++)
		j->rows[y] = j->pixels + stride * y;
	for (uint32_t y = 0; y < h; y += got) {
		if ((rc = mli_jpeg_read(j, j->rows + y, h - y, &got, f)) < 0)
			return rc;
		if (!got) {
			mli_fault_set(f, MLI_FAULT_CORRUPT, "no rows decoded");
			return MLI_EINVAL;
		}
	}
	if ((rc = mli_jpeg_finish(j, f)) < 0)
		return rc;
	*width = w;
	*height = h;
	*pixels = j->pixels;
	j->pixels = NULL;
	return 0;
}

struct encoder {
	struct jpeg_compress_struct c;
	struct errmgr e;
	unsigned char *buf;
	unsigned long size;
};

int mli_jpeg_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
		    uint8_t **out, size_t *len)
{
	struct encoder *enc;
	volatile int rc = 0;

	*out = NULL;
	*len = 0;
	if (!width || !height || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION
	    || quality < 1 || quality > 100)
		return MLI_EINVAL;
	if (!(enc = calloc(1, sizeof *enc)))
		return MLI_ENOMEM;
	errmgr_init(&enc->e, 0);
	enc->c.err = &enc->e.pub;
	if (setjmp(enc->e.jb)) {
		rc = enc->e.code == JERR_OUT_OF_MEMORY ? MLI_ENOMEM : MLI_EINVAL;
		goto done;
	}
	jpeg_create_compress(&enc->c);
	jpeg_mem_dest(&enc->c, &enc->buf, &enc->size);
	enc->c.image_width = width;
	enc->c.image_height = height;
	enc->c.input_components = 3;
	enc->c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&enc->c);
	jpeg_set_quality(&enc->c, quality, TRUE);
	jpeg_start_compress(&enc->c, TRUE);
	while (enc->c.next_scanline < height) {
		JSAMPROW row = (JSAMPROW)(rgb + (size_t)enc->c.next_scanline * width * 3);
		jpeg_write_scanlines(&enc->c, &row, 1);
	}
	jpeg_finish_compress(&enc->c);
	*out = enc->buf;
	*len = enc->size;
	enc->buf = NULL;
done:
	jpeg_destroy_compress(&enc->c);
	free(enc->buf);
	free(enc);
	return rc;
}

/* checkpoint.c: safetensors write (atomic) and read (see checkpoint.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "error.h"

struct entry {
	const char *name;   /* inside the JSON object */
	size_t begin, end;  /* in the data section */
	int ndim;
	size_t dims[4];
	int f32;
};

struct mli_ckpt {
	uint8_t *file;
	size_t size;
	const uint8_t *data;   /* the data section */
	size_t data_size;
	json_t *header;
	struct entry *e;
	size_t n;
};

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return MLI_ESYS;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = 0;
	if (!copy)
		return MLI_ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	free(copy);
	if (fd < 0)
		return MLI_ESYS;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = MLI_ESYS;
	close(fd);
	return rc;
}

int mli_ckpt_write(const char *path, const struct mli_ckpt_tensor *t, size_t n,
		   const struct mli_ckpt_meta *meta, size_t n_meta)
{
	json_t *h = json_object(), *md = json_object();
	char *text = NULL, *tmp = NULL;
	int fd = -1, rc = MLI_ENOMEM, saved;
	size_t off = 0;

	if (!h || !md)
		goto fail;
	for (size_t i = 0; i < n_meta; i++)
		if (json_object_set_new(md, meta[i].key, json_string(meta[i].value)))
			goto fail;
	if (json_object_set(h, "__metadata__", md))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t count = 1;
		json_t *shape = json_array(), *o;
		if (!shape)
			goto fail;
		for (int d = 0; d < t[i].ndim; d++) {
			count *= t[i].dims[d];
			json_array_append_new(shape, json_integer((json_int_t)t[i].dims[d]));
		}
		if (!t[i].name[0] || json_object_get(h, t[i].name)) {
			json_decref(shape);
			rc = MLI_EINVAL;
			goto fail;
		}
		o = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
			      "data_offsets", (json_int_t)off,
			      (json_int_t)(off + count * sizeof(float)));
		if (!o || json_object_set_new(h, t[i].name, o))
			goto fail;
		off += count * sizeof(float);
	}
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		goto fail;
	size_t hl = strlen(text), padded = (hl + 7) & ~(size_t)7;
	char *grown = realloc(text, padded + 1);
	if (!grown)
		goto fail;
	text = grown;
	memset(text + hl, ' ', padded - hl);
	size_t tl = strlen(path) + 32;
	tmp = malloc(tl);
	if (!tmp)
		goto fail;
	snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
	rc = MLI_ESYS;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	uint8_t len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
	if (write_all(fd, len8, 8) < 0 || write_all(fd, text, padded) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t count = 1;
		for (int d = 0; d < t[i].ndim; d++)
			count *= t[i].dims[d];
		if (write_all(fd, t[i].data, count * sizeof(float)) < 0)
			goto fail;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	tmp = NULL;
	rc = fsync_dir_of(path);
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	json_decref(md);
	json_decref(h);
	errno = saved;
	return rc;
}

void mli_ckpt_free(struct mli_ckpt *c)
{
	if (!c)
		return;
	json_decref(c->header);
	free(c->e);
	free(c->file);
	free(c);
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;

	if (fd < 0)
		return MLI_ESYS;
	if (fstat(fd, &st) < 0)
		goto fail;
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return MLI_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	close(fd);
	*out = b;
	*size = got;
	return 0;
fail:
	free(b);
	close(fd);
	return MLI_ESYS;
}

static int cmp_begin(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int parse(struct mli_ckpt *c, const char **why);

int mli_ckpt_open(struct mli_ckpt **out, const char *path, const char **why)
{
	struct mli_ckpt *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	*why = NULL;
	if (!c)
		return MLI_ENOMEM;
	rc = read_file(path, &c->file, &c->size);
	if (rc == 0)
		rc = parse(c, why);
	if (rc < 0) {
		mli_ckpt_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int mli_ckpt_parse(struct mli_ckpt **out, const void *data, size_t size, const char **why)
{
	struct mli_ckpt *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	*why = NULL;
	if (!c || !(c->file = malloc(size + 1))) {
		free(c);
		return MLI_ENOMEM;
	}
	memcpy(c->file, data, size);
	c->size = size;
	rc = parse(c, why);
	if (rc < 0) {
		mli_ckpt_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Checks the file in c->file and builds the tensor table. */
static int parse(struct mli_ckpt *c, const char **why)
{
	json_error_t jerr;
	int rc = MLI_EINVAL;

	uint64_t hl = 0;
	if (c->size < 8) {
		*why = "shorter than its header length";
		goto fail;
	}
	for (int i = 0; i < 8; i++)
		hl |= (uint64_t)c->file[i] << (8 * i);
	if (hl > c->size - 8) {
		*why = "header length beyond the end of the file";
		goto fail;
	}
	c->header = json_loadb((const char *)c->file + 8, hl, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->header || !json_is_object(c->header)) {
		*why = "header is not a JSON object";
		goto fail;
	}
	c->data = c->file + 8 + hl;
	c->data_size = c->size - 8 - hl;
	c->e = calloc(json_object_size(c->header) + 1, sizeof *c->e);
	if (!c->e) {
		rc = MLI_ENOMEM;
		goto fail;
	}
	const char *key;
	json_t *v;
	json_object_foreach(c->header, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			const char *mk;
			json_t *mv;
			if (!json_is_object(v)) {
				*why = "__metadata__ is not an object";
				goto fail;
			}
			json_object_foreach(v, mk, mv) {
				if (!json_is_string(mv)) {
					*why = "a __metadata__ value is not a string";
					goto fail;
				}
			}
			continue;
		}
		struct entry *e = &c->e[c->n];
		json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
		       *of = json_object_get(v, "data_offsets");
		if (!json_is_string(dt) || !json_is_array(sh) || json_array_size(sh) > 4 ||
		    !json_is_array(of) || json_array_size(of) != 2 ||
		    !json_is_integer(json_array_get(of, 0)) || !json_is_integer(json_array_get(of, 1))) {
			*why = "a tensor entry lacks dtype, shape or data_offsets";
			goto fail;
		}
		json_int_t b = json_integer_value(json_array_get(of, 0));
		json_int_t en = json_integer_value(json_array_get(of, 1));
		size_t elem = strcmp(json_string_value(dt), "F32") == 0 ? 4 : 0;
		e->f32 = elem == 4;
		if (!elem) {
			/* Other dtypes are skipped but their bytes still have to
			 * sit inside the file. */
			const char *d = json_string_value(dt);
			elem = !strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64") ? 8
			     : !strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") ||
					       !strcmp(d, "U16")
				     ? 2
			     : !strcmp(d, "I32") || !strcmp(d, "U32") ? 4
			     : !strcmp(d, "U8") || !strcmp(d, "I8") || !strcmp(d, "BOOL") ? 1
											  : 0;
			if (!elem) {
				*why = "unknown dtype";
				goto fail;
			}
		}
		size_t count = 1;
		e->ndim = (int)json_array_size(sh);
		for (int d = 0; d < e->ndim; d++) {
			json_t *x = json_array_get(sh, (size_t)d);
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > (json_int_t)1 << 40) {
				*why = "bad shape";
				goto fail;
			}
			e->dims[d] = (size_t)json_integer_value(x);
			if (__builtin_mul_overflow(count, e->dims[d], &count)) {
				*why = "bad shape";
				goto fail;
			}
		}
		if (b < 0 || en < b || (uint64_t)en > c->data_size ||
		    (size_t)(en - b) != count * elem) {
			*why = "data_offsets do not match the shape or leave the file";
			goto fail;
		}
		e->name = key;
		e->begin = (size_t)b;
		e->end = (size_t)en;
		c->n++;
	}
	/* No two tensors may share bytes. */
	struct entry *sorted = malloc((c->n + 1) * sizeof *sorted);
	if (!sorted) {
		rc = MLI_ENOMEM;
		goto fail;
	}
	memcpy(sorted, c->e, c->n * sizeof *sorted);
	qsort(sorted, c->n, sizeof *sorted, cmp_begin);
	for (size_t i = 1; i < c->n; i++)
		if (sorted[i].begin < sorted[i - 1].end) {
			free(sorted);
			*why = "two tensors overlap";
			goto fail;
		}
	free(sorted);
	return 0;
fail:
	return rc;
}

static const struct entry *find(const struct mli_ckpt *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].name, name) == 0)
			return &c->e[i];
	return NULL;
}

int mli_ckpt_tensor(const struct mli_ckpt *c, const char *name, const void **data, int *ndim,
		    size_t dims[4], size_t *count)
{
	const struct entry *e = find(c, name);
	if (!e || !e->f32)
		return MLI_EINVAL;
	*data = c->data + e->begin;
	*ndim = e->ndim;
	for (int i = 0; i < 4; i++)
		dims[i] = i < e->ndim ? e->dims[i] : 0;
	*count = (e->end - e->begin) / 4;
	return 0;
}

const char *mli_ckpt_meta(const struct mli_ckpt *c, const char *key)
{
	json_t *md = json_object_get(c->header, "__metadata__");
	return json_string_value(json_object_get(md, key));
}

size_t mli_ckpt_count(const struct mli_ckpt *c)
{
	return c->n;
}

const char *mli_ckpt_name(const struct mli_ckpt *c, size_t i)
{
	return i < c->n ? c->e[i].name : NULL;
}

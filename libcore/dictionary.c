/* dictionary.c: the class dictionary, its hierarchy and class maps (see
 * dictionary.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dictionary.h"
#include "error.h"
#include "io.h"

/* Larger class indices than this are certainly not a class list (the
 * release has 11,166); the bound keeps a map's table small. */
#define CLASSES_MAX (1u << 24)

struct mli_dictionary {
	size_t n;
	int64_t *parent;   /* n entries: the parent index, or -1 */
	char **id;         /* n strings into text */
	char **name;       /* n strings into text */
	char *text;        /* a NUL-separated copy of the file */
};

struct mli_classmap {
	size_t n_from;     /* entries of to */
	int64_t *to;       /* new index of each old class, or -1 */
	size_t classes;
};

/* Reads a whole file (or pipe) into a NUL-terminated heap buffer. */
static int read_file(const char *path, char **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		free(buf);
		errno = e;
		return buf ? MLI_ESYS : MLI_ENOMEM;
	}
	for (;;) {
		ssize_t got = mli_read_full(fd, buf + n, cap - n);
		if (got < 0) {
			int e = errno;
			close(fd);
			free(buf);
			errno = e;
			return MLI_ESYS;
		}
		n += (size_t)got;
		if (n < cap)
			break;
		char *b2 = cap < (1u << 30) ? realloc(buf, 2 * cap + 1) : NULL;
		if (!b2) {
			close(fd);
			free(buf);
			return MLI_ENOMEM;
		}
		buf = b2;
		cap *= 2;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Parses a whole decimal number (optionally negative) of the n bytes at s. */
static int parse_int(const char *s, size_t n, int64_t *v)
{
	int neg = 0;
	int64_t x = 0;

	if (n && *s == '-') {
		neg = 1;
		s++;
		n--;
	}
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = neg ? -x : x;
	return 0;
}

/* Splits a line (without its '\n' and a final '\r') at TABs into up to
 * max fields; returns the number of fields. The last field takes the rest
 * of the line. */
static size_t split_tabs(char *line, size_t len, char **f, size_t *flen, size_t max)
{
	size_t n = 0;
	char *p = line, *end = line + len;

	if (len && end[-1] == '\r')
		end--;
	while (n < max) {
		char *tab = n + 1 < max ? memchr(p, '\t', (size_t)(end - p)) : NULL;
		f[n] = p;
		flen[n] = (size_t)((tab ? tab : end) - p);
		n++;
		if (!tab)
			break;
		p = tab + 1;
	}
	return n;
}

void mli_dictionary_free(struct mli_dictionary *d)
{
	if (!d)
		return;
	free(d->parent);
	free(d->id);
	free(d->name);
	free(d->text);
	free(d);
}

/* Checks that the parents form a forest: walks up from each class, marking
 * the path, and fails on meeting a class of the path being walked. */
static int check_forest(const struct mli_dictionary *d)
{
	uint8_t *state = calloc(d->n ? d->n : 1, 1);   /* 0 new, 1 on the path, 2 done */
	int rc = 0;

	if (!state)
		return MLI_ENOMEM;
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		int64_t c = (int64_t)i;
		while (c >= 0 && state[c] == 0) {
			state[c] = 1;
			c = d->parent[c];
		}
		if (c >= 0 && state[c] == 1)
			rc = MLI_EINVAL;
		for (c = (int64_t)i; c >= 0 && state[c] == 1; c = d->parent[c])
			state[c] = 2;
	}
	free(state);
	return rc;
}

int mli_dictionary_parse(const char *text, size_t len, struct mli_dictionary **out,
			 size_t *line, const char **why)
{
	struct mli_dictionary *d = calloc(1, sizeof *d);
	size_t cap = 0, lineno = 0;
	char *p, *end;
	int rc = MLI_ENOMEM;

	*line = 0;
	*why = "out of memory";
	if (!d || !(d->text = malloc(len + 1)))
		goto fail;
	if (len)
		memcpy(d->text, text, len);
	d->text[len] = '\0';
	p = d->text;
	end = d->text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char *f[4];
		size_t fl[4];
		int64_t index, parent;

		lineno++;
		if (nl)
			*nl = '\0';
		if (n == 0 || (n == 1 && *p == '\r')) {
			p += n + 1;
			continue;
		}
		if (split_tabs(p, n, f, fl, 4) != 4 || parse_int(f[0], fl[0], &index) < 0
		    || parse_int(f[2], fl[2], &parent) < 0) {
			if (lineno == 1 && d->n == 0) {   /* the header line */
				p += n + 1;
				continue;
			}
			rc = MLI_EINVAL;
			*why = "not index<TAB>id<TAB>parent<TAB>name";
			goto fail_line;
		}
		if (index != (int64_t)d->n || d->n >= CLASSES_MAX) {
			rc = MLI_EINVAL;
			*why = "class index out of order";
			goto fail_line;
		}
		if (parent < -1 || parent >= CLASSES_MAX) {
			rc = MLI_EINVAL;
			*why = "parent index out of range";
			goto fail_line;
		}
		if (d->n == cap) {
			size_t c2 = cap ? 2 * cap : 1024;
			int64_t *pa = realloc(d->parent, c2 * sizeof *pa);
			if (pa)
				d->parent = pa;
			char **id = pa ? realloc(d->id, c2 * sizeof *id) : NULL;
			if (id)
				d->id = id;
			char **nm = id ? realloc(d->name, c2 * sizeof *nm) : NULL;
			if (!nm)
				goto fail;
			d->name = nm;
			cap = c2;
		}
		f[1][fl[1]] = '\0';
		f[3][fl[3]] = '\0';
		d->parent[d->n] = parent;
		d->id[d->n] = f[1];
		d->name[d->n] = f[3];
		d->n++;
		p += n + 1;
	}
	lineno = 0;
	if (d->n == 0) {
		rc = MLI_EINVAL;
		*why = "no classes";
		goto fail_line;
	}
	for (size_t i = 0; i < d->n; i++) {
		if (d->parent[i] >= (int64_t)d->n) {
			rc = MLI_EINVAL;
			*why = "a parent that is not a class";
			lineno = 0;
			goto fail_line;
		}
	}
	if ((rc = check_forest(d)) < 0) {
		*why = rc == MLI_EINVAL ? "the parents form a cycle" : "out of memory";
		goto fail;
	}
	*out = d;
	return 0;
fail_line:
	*line = lineno;
fail:
	mli_dictionary_free(d);
	return rc;
}

int mli_dictionary_read(const char *path, struct mli_dictionary **out, size_t *line,
			const char **why)
{
	char *text;
	size_t len;
	int rc;

	*line = 0;
	*why = NULL;
	if ((rc = read_file(path, &text, &len)) < 0)
		return rc;
	rc = mli_dictionary_parse(text, len, out, line, why);
	free(text);
	return rc;
}

size_t mli_dictionary_size(const struct mli_dictionary *d)
{
	return d->n;
}

const char *mli_dictionary_name(const struct mli_dictionary *d, uint32_t cls)
{
	return cls < d->n ? d->name[cls] : NULL;
}

const char *mli_dictionary_id(const struct mli_dictionary *d, uint32_t cls)
{
	return cls < d->n ? d->id[cls] : NULL;
}

int64_t mli_dictionary_parent(const struct mli_dictionary *d, uint32_t cls)
{
	return cls < d->n ? d->parent[cls] : -2;
}

int mli_dictionary_propagate(const struct mli_dictionary *d, const struct mli_label *in,
			     size_t n, struct mli_label *out, size_t cap)
{
	size_t n_out = n, n_given = n;

	if (n > cap)
		return MLI_ENOMEM;
	if (n)
		memmove(out, in, n * sizeof *in);
	for (size_t i = 0; i < n_given; i++) {
		if (out[i].cls >= d->n)
			return MLI_ERANGE;
		if (!(out[i].conf > 0))
			continue;
		for (int64_t c = d->parent[out[i].cls]; c >= 0; c = d->parent[c]) {
			size_t j;
			for (j = 0; j < n_out && out[j].cls != (uint32_t)c; j++)
				;
			if (j < n_given)
				continue;   /* labelled already: the annotation stands */
			if (j < n_out) {
				if (out[i].conf > out[j].conf)
					out[j].conf = out[i].conf;
				continue;
			}
			if (n_out == cap)
				return MLI_ENOMEM;
			out[n_out].cls = (uint32_t)c;
			out[n_out].conf = out[i].conf;
			n_out++;
		}
	}
	return (int)n_out;
}

void mli_classmap_free(struct mli_classmap *m)
{
	if (!m)
		return;
	free(m->to);
	free(m);
}

int mli_classmap_parse(const char *text, size_t len, struct mli_classmap **out, size_t *line,
		       const char **why)
{
	struct mli_classmap *m = calloc(1, sizeof *m);
	const char *p = text, *end = text + len;
	size_t lineno = 0, rank = 0;
	int rc = MLI_ENOMEM;

	*line = 0;
	*why = "out of memory";
	if (!m)
		goto fail;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p, *tab;
		int64_t from, to;

		lineno++;
		p = e + 1;
		if (e > s && e[-1] == '\r')
			e--;
		if (e == s || *s == '#')
			continue;
		tab = memchr(s, '\t', (size_t)(e - s));
		if (parse_int(s, (size_t)((tab ? tab : e) - s), &from) < 0
		    || (tab && parse_int(tab + 1, (size_t)(e - tab - 1), &to) < 0)
		    || from < 0 || from >= CLASSES_MAX) {
			rc = MLI_EINVAL;
			*why = "not OLD or OLD<TAB>NEW (whole classes)";
			goto fail_line;
		}
		if (!tab)
			to = (int64_t)rank;
		if (to < 0 || to >= CLASSES_MAX) {
			rc = MLI_EINVAL;
			*why = "new class out of range";
			goto fail_line;
		}
		rank++;
		if ((size_t)from >= m->n_from) {
			size_t n2 = (size_t)from + 1 > 2 * m->n_from ? (size_t)from + 1 : 2 * m->n_from;
			int64_t *t = realloc(m->to, n2 * sizeof *t);
			if (!t)
				goto fail;
			for (size_t i = m->n_from; i < n2; i++)
				t[i] = -1;
			m->to = t;
			m->n_from = n2;
		}
		if (m->to[from] >= 0) {
			rc = MLI_EINVAL;
			*why = "class mapped twice";
			goto fail_line;
		}
		m->to[from] = to;
		if ((size_t)to + 1 > m->classes)
			m->classes = (size_t)to + 1;
	}
	if (m->classes == 0) {
		rc = MLI_EINVAL;
		*why = "no classes";
		lineno = 0;
		goto fail_line;
	}
	*out = m;
	return 0;
fail_line:
	*line = lineno;
fail:
	mli_classmap_free(m);
	return rc;
}

int mli_classmap_read(const char *path, struct mli_classmap **out, size_t *line, const char **why)
{
	char *text;
	size_t len;
	int rc;

	*line = 0;
	*why = NULL;
	if ((rc = read_file(path, &text, &len)) < 0)
		return rc;
	rc = mli_classmap_parse(text, len, out, line, why);
	free(text);
	return rc;
}

size_t mli_classmap_classes(const struct mli_classmap *m)
{
	return m->classes;
}

size_t mli_classmap_apply(const struct mli_classmap *m, struct mli_label *labels, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;
		if (labels[i].cls >= m->n_from || m->to[labels[i].cls] < 0)
			continue;
		uint32_t to = (uint32_t)m->to[labels[i].cls];
		for (j = 0; j < k && labels[j].cls != to; j++)
			;
		if (j < k) {
			if (labels[i].conf > labels[j].conf)
				labels[j].conf = labels[i].conf;
			continue;
		}
		labels[k].cls = to;
		labels[k].conf = labels[i].conf;
		k++;
	}
	return k;
}

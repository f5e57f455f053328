/* mkencoded: a test tool that writes one ENCODED record per file named on
 * its command line to stdout: KEY the name as given, BLOB the bytes, MEDIA
 * sniffed from them, SOURCE the name. A name may be followed by
 * "@MEDIA" to claim another media type (the fault corpus labels a PNG as
 * image/jpeg) and then by "=CLASS:CONF,CLASS:CONF" to give the record
 * labels. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "mli.h"

static void die(const char *what, const char *why)
{
	fprintf(stderr, "mkencoded: %s: %s\n", what, why);
	exit(1);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint8_t *p;

	if (fd < 0 || fstat(fd, &sb) < 0)
		die(path, "cannot open");
	if (!(p = malloc((size_t)sb.st_size + 1)))
		die(path, "out of memory");
	if (mli_read_full(fd, p, (size_t)sb.st_size) != sb.st_size)
		die(path, "cannot read");
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

static size_t parse_labels(char *s, struct mli_label *labels, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) {
		char *colon = strchr(tok, ':');
		labels[n].cls = (uint32_t)strtoul(tok, NULL, 10);
		labels[n].conf = colon ? strtof(colon + 1, NULL) : 1.0f;
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct mli_writer *w = mli_writer_open(STDOUT_FILENO, NULL);

	if (!w)
		die("stdout", "out of memory");
	for (int i = 1; i < argc; i++) {
		char *name = argv[i], *eq = strchr(name, '='), *at;
		struct mli_label labels[64];
		size_t n_labels = 0, len;
		uint8_t *data;
		const char *media;

		if (eq) {
			*eq = '\0';
			n_labels = parse_labels(eq + 1, labels, 64);
		}
		if ((at = strrchr(name, '@')))
			*at = '\0';
		data = slurp(name, &len);
		media = at ? at + 1 : mli_image_media(mli_image_sniff(data, len));
		if (mli_writer_begin(w, MLI_TYPE_ENCODED) < 0 || mli_writer_key(w, name, strlen(name)) < 0
		    || mli_writer_labels(w, labels, n_labels) < 0
		    || mli_writer_field(w, MLI_TAG_BLOB, data, len) < 0
		    || mli_writer_field(w, MLI_TAG_MEDIA, media, strlen(media)) < 0
		    || mli_writer_field(w, MLI_TAG_SOURCE, name, strlen(name)) < 0
		    || mli_writer_end(w) < 0)
			die(name, "cannot write the record");
		free(data);
	}
	if (mli_writer_finish(w) < 0)
		die("stdout", "write failed");
	mli_writer_free(w);
	return 0;
}

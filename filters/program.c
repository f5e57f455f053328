/* program.c: the user-facing conventions shared by the programs. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "program.h"

void program_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

void program_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(PROGRAM_EXIT_USAGE);
}

void program_version(const char *prog)
{
	printf("%s (mli) %s\n", prog, PACKAGE_VERSION);
	program_close_stdout(prog);
	exit(0);
}

void program_output_failed(const char *prog, int rc)
{
	if (rc == MLI_EPIPE || (rc == MLI_ESYS && errno == EPIPE)) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		_exit(128 + SIGPIPE);
	}
	fprintf(stderr, "%s: stdout: %s\n", prog, mli_strerror(rc));
	exit(PROGRAM_EXIT_FAILURE);
}

void program_refuse_terminal(const char *prog)
{
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "%s: stdout is a terminal; frames are binary: redirect or pipe them\n", prog);
		exit(PROGRAM_EXIT_USAGE);
	}
}

void program_close_stdout(const char *prog)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		program_output_failed(prog, MLI_ESYS);
}

uint64_t program_input_size(char *const *files, int n_files)
{
	uint64_t total = 0;
	struct stat sb;

	if (n_files == 0)
		return fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	for (int i = 0; i < n_files; i++) {
		int ok = strcmp(files[i], "-") == 0 ? fstat(STDIN_FILENO, &sb) == 0 : stat(files[i], &sb) == 0;
		if (!ok || !S_ISREG(sb.st_mode))
			return 0;
		total += (uint64_t)sb.st_size;
	}
	return total;
}

void program_common_option(const char *prog, int c, void (*usage)(FILE *), int *progress_mode)
{
	switch (c) {
	case 'p':
		*progress_mode = MLI_PROGRESS_ON;
		return;
	case 'q':
		*progress_mode = MLI_PROGRESS_OFF;
		return;
	case 'h':
		usage(stdout);
		program_close_stdout(prog);
		exit(0);
	case 'V':
		program_version(prog);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(PROGRAM_EXIT_USAGE);
}

int program_open_input(const char *file, const char **name)
{
	if (strcmp(file, "-") == 0) {
		*name = "stdin";
		return STDIN_FILENO;
	}
	*name = file;
	return open(file, O_RDONLY | O_CLOEXEC);
}

void program_keep_heap(size_t mmap_bytes, size_t trim_bytes)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, (int)mmap_bytes);
	mallopt(M_TRIM_THRESHOLD, (int)trim_bytes);
#else
	(void)mmap_bytes;
	(void)trim_bytes;
#endif
}

int program_each_input(const char *prog, char *const *files, int n_files,
		       struct mli_progress *p, int (*fn)(void *ctx, const char *name, int fd),
		       void *ctx)
{
	for (int i = 0; i < (n_files ? n_files : 1); i++) {
		const char *name;
		int fd = program_open_input(n_files ? files[i] : "-", &name), rc;

		if (fd < 0) {
			if (p)
				mli_progress_end(p);
			fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
			return -1;
		}
		rc = fn(ctx, name, fd);
		if (fd != STDIN_FILENO)
			close(fd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void program_vfail(const char *prog, struct mli_progress *p, struct mli_writer *w,
		   const char *fmt, va_list ap)
{
	if (p)
		mli_progress_end(p);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (w)
		mli_writer_flush(w);
	exit(PROGRAM_EXIT_FAILURE);
}

/* program.h: what every mli program does the same way when it talks to
 * the user: usage errors (exit 2), --version, failures (exit 1), a closed
 * downstream pipe (a quiet end), and refusing to write frames to a
 * terminal. These print and exit, so they live here and not in libcore. */
#ifndef MLI_PROGRAM_H
#define MLI_PROGRAM_H

#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#include "progress.h"
#include "writer.h"

#define PROGRAM_EXIT_FAILURE 1
#define PROGRAM_EXIT_USAGE 2

/* Sets up signals (a write to a closed pipe returns EPIPE instead of
 * killing the program in the middle of a frame). */
void program_init(void);

/* Prints "PROG: message" and a pointer to --help; exits 2. */
void program_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Prints "PROG (mli) VERSION" on stdout; exits 0. */
void program_version(const char *prog) __attribute__((noreturn));

/* Ends the program after a failed write of frames or text to stdout:
 * quietly, by SIGPIPE as cat(1) would, when the reader has gone (rc is
 * MLI_EPIPE); otherwise with "PROG: stdout: why" and exit 1. */
void program_output_failed(const char *prog, int rc) __attribute__((noreturn));

/* Exits 2 with a message when stdout is a terminal: frames are binary. */
void program_refuse_terminal(const char *prog);

/* Flushes and closes stdout, ending as program_output_failed() on error. */
void program_close_stdout(const char *prog);

/* Handles the options every program has, after the program's own:
 * -p/--progress and -q/--quiet (into *progress_mode), -h/--help (usage on
 * stdout, exit 0) and -V/--version. Any other c is a usage error: a
 * pointer to --help and exit 2. Returns only for -p and -q. */
void program_common_option(const char *prog, int c, void (*usage)(FILE *), int *progress_mode);

/* Opens an input named on the command line, "-" being stdin, and sets
 * *name to what messages call it. Returns the descriptor, or -1 with
 * errno set. */
int program_open_input(const char *file, const char **name);

/* For a program whose records come and go as buffers of hundreds of
 * kilobytes to megabytes, thousands of times a second: glibc would map
 * and unmap (or trim) each such buffer, and the page faults then cost a
 * tenth to a third of the run time. Buffers below mmap_bytes stay on the
 * heap, and the heap keeps up to trim_bytes free. No-op without glibc. */
void program_keep_heap(size_t mmap_bytes, size_t trim_bytes);

/* Runs the inputs named on the command line (stdin when n_files is 0)
 * through fn(ctx, name, fd) in order, name being what messages call the
 * input. Stops at the first input that cannot be opened (reported as
 * "PROG: NAME: reason", after ending the progress line p, which may be
 * NULL) or that fn fails (fn reports it). Returns 0, or -1 after such a
 * failure. */
int program_each_input(const char *prog, char *const *files, int n_files,
		       struct mli_progress *p, int (*fn)(void *ctx, const char *name, int fd),
		       void *ctx);

/* Ends the program after a fault: ends the progress line p, prints
 * "PROG: message", writes out the whole frames gathered in w without an
 * end frame (so that a consumer sees the output as truncated) and exits
 * 1. p and w may be NULL. */
void program_vfail(const char *prog, struct mli_progress *p, struct mli_writer *w,
		   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0), noreturn));

/* The total size of the inputs (stdin when n_files is 0 or a name is
 * "-") when all are regular files, for an ETA; 0 when unknown. */
uint64_t program_input_size(char *const *files, int n_files);

#endif

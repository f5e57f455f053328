/* cli.h: command-line conventions shared by every program: checked
 * number parsing and the decision to show progress. The parts that print
 * and exit live with the programs (filters/program.c). */
#ifndef MLI_CLI_H
#define MLI_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Parses a whole decimal integer in [lo, hi]. Returns 0, MLI_EINVAL for
 * text that is not a number, or MLI_ERANGE. */
int mli_parse_long(const char *s, long lo, long hi, long *out);

/* Parses a size: a whole number with an optional K, M or G suffix
 * (powers of 1024), at most max. Returns 0, MLI_EINVAL or MLI_ERANGE. */
int mli_parse_size(const char *s, uint64_t max, uint64_t *out);

/* Parses a decimal number (as strtod) in [lo, hi]. */
int mli_parse_double(const char *s, double lo, double hi, double *out);

/* Parses a whole unsigned decimal number of at most max: digits only, no
 * sign and no leading space (strtoull would take " -1" as 2^64-1).
 * Returns 0, MLI_EINVAL or MLI_ERANGE. */
int mli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Parses 1 to 16 hexadecimal digits, nothing else (the 64-bit keys and
 * digests that mli writes as text). Returns 0 or MLI_EINVAL. */
int mli_parse_hex64(const char *s, uint64_t *out);

/* Parses "LO,HI": two numbers in [lo, hi] with LO <= HI. Returns 0,
 * MLI_EINVAL (not two numbers) or MLI_ERANGE (outside [lo, hi], or LO
 * more than HI). */
int mli_parse_range(const char *s, double lo, double hi, double *a, double *b);

/* Parses a comma-separated list of whole numbers in [lo, hi], each more
 * than the one before when increasing is set, at most max of them, into
 * out[] and *n. An empty list, an empty item ("1,,2") or a trailing comma
 * is MLI_EINVAL; a number out of range, out of order or one too many is
 * MLI_ERANGE. */
int mli_parse_long_list(const char *s, long lo, long hi, int increasing,
			long *out, size_t max, size_t *n);

enum mli_progress_mode {
	MLI_PROGRESS_AUTO = 0,  /* when stderr is a terminal */
	MLI_PROGRESS_ON,        /* --progress */
	MLI_PROGRESS_OFF        /* --quiet */
};

/* Whether to show progress on fd under this mode. */
int mli_progress_wanted(int mode, int fd);

#endif

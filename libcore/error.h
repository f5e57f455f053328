/* error.h: the error codes every libcore call returns.
 *
 * libcore never prints and never exits: a call returns 0 (or a count) on
 * success and one of these negative codes on failure. mli_strerror() turns
 * a code into a short phrase for a program to show. */
#ifndef MLI_ERROR_H
#define MLI_ERROR_H

enum mli_error {
	MLI_OK = 0,
	MLI_ESYS = -1,      /* a system call failed; errno says why */
	MLI_ENOMEM = -2,    /* out of memory */
	MLI_EINVAL = -3,    /* invalid argument */
	MLI_ERANGE = -4,    /* number out of range */
	MLI_EMAGIC = -5,    /* not a frame: bad magic */
	MLI_EHEADER = -6,   /* header checksum mismatch */
	MLI_EVERSION = -7,  /* unsupported format version or flags */
	MLI_ELIMIT = -8,    /* a length exceeds the reader's limits */
	MLI_EPAYLOAD = -9,  /* payload checksum mismatch */
	MLI_EZSTD = -10,    /* the compressed payload does not decompress */
	MLI_ERECORD = -11,  /* malformed record fields */
	MLI_ETRUNC = -12,   /* the stream ends before its end frame */
	MLI_ETRAILER = -13, /* the end frame does not match what came before */
	MLI_EPIPE = -14,    /* the reader at the other end of a pipe is gone */
	MLI_EUNSUPPORTED = -15, /* valid, but not something this build handles */
	MLI_ESIZE = -16,    /* a raw frame whose stored and content sizes differ */
	MLI_ERROR_MIN = -16
};

/* A short lower-case phrase for an error code; never NULL. */
const char *mli_strerror(int code);

#endif

/* io.h: whole reads and writes on file descriptors.
 *
 * Both retry on EINTR and on short transfers, so callers see either the
 * full count or a failure. */
#ifndef MLI_IO_H
#define MLI_IO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Reads up to len bytes, stopping early only at end of input. Returns the
 * number read (less than len only at end of input) or MLI_ESYS. */
ssize_t mli_read_full(int fd, void *buf, size_t len);

/* Writes every byte of the iovecs (which it may modify). Returns 0,
 * MLI_EPIPE when the reader has gone, or MLI_ESYS. */
int mli_writev_full(int fd, struct iovec *iov, int iovcnt);

/* Writes len bytes; as mli_writev_full. */
int mli_write_full(int fd, const void *buf, size_t len);

/* Grows the buffer of a pipe at fd to a mebibyte (or as much as the
 * system allows), so that a writer and a reader of whole frames, each
 * larger than the default 64 KiB, can work at the same time instead of
 * in turns. Does nothing when fd is not a pipe. */
void mli_pipe_grow(int fd);

#endif

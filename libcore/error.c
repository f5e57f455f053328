/* error.c: phrases for libcore's error codes. */
#include <errno.h>
#include <string.h>

#include "error.h"

const char *mli_strerror(int code)
{
	switch (code) {
	case MLI_OK: return "success";
	case MLI_ESYS: return strerror(errno);
	case MLI_ENOMEM: return "out of memory";
	case MLI_EINVAL: return "invalid argument";
	case MLI_ERANGE: return "number out of range";
	case MLI_EMAGIC: return "not an mli frame (bad magic)";
	case MLI_EHEADER: return "frame header checksum mismatch";
	case MLI_EVERSION: return "unsupported frame version or flags";
	case MLI_ELIMIT: return "frame length exceeds limit";
	case MLI_EPAYLOAD: return "payload checksum mismatch";
	case MLI_EZSTD: return "payload does not decompress";
	case MLI_ERECORD: return "malformed record";
	case MLI_ETRUNC: return "truncated stream";
	case MLI_ETRAILER: return "end frame does not match the stream";
	case MLI_EPIPE: return "broken pipe";
	case MLI_EUNSUPPORTED: return "unsupported";
	case MLI_ESIZE: return "raw frame with differing stored and content sizes";
	}
	return "unknown error";
}

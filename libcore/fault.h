/* fault.h: why an image could not be decoded.
 *
 * The decoders return MLI_EINVAL for bytes that are not a usable image and
 * fill a struct mli_fault: a reason from a fixed set (the names programs
 * count and log; documented in mli-decode(1)) and a detail phrase. */
#ifndef MLI_FAULT_H
#define MLI_FAULT_H

enum mli_fault_reason {
	MLI_FAULT_NONE = 0,
	MLI_FAULT_EMPTY,        /* no bytes at all */
	MLI_FAULT_TRUNCATED,    /* the data ends before the image does */
	MLI_FAULT_CORRUPT,      /* bad markers, tables or entropy-coded data */
	MLI_FAULT_BOMB,         /* more pixels than allowed */
	MLI_FAULT_SCANS,        /* more progressive scans than allowed */
	MLI_FAULT_FORMAT,       /* not JPEG or PNG, or a JPEG colour space not handled */
	MLI_FAULT_NOMEM,        /* memory ran out */
	MLI_FAULT_COUNT
};

struct mli_fault {
	int reason;         /* enum mli_fault_reason */
	char detail[160];   /* e.g. "Premature end of JPEG file" */
};

/* The reason's name, e.g. "truncated"; never NULL. */
const char *mli_fault_name(int reason);

/* Sets f's reason and detail (printf-style). */
void mli_fault_set(struct mli_fault *f, int reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

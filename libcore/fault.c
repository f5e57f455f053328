/* fault.c: names of the decode fault reasons. */
#include <stdarg.h>
#include <stdio.h>

#include "fault.h"

const char *mli_fault_name(int reason)
{
	static const char *const names[MLI_FAULT_COUNT] = {
		[MLI_FAULT_NONE] = "none",
		[MLI_FAULT_EMPTY] = "empty",
		[MLI_FAULT_TRUNCATED] = "truncated",
		[MLI_FAULT_CORRUPT] = "corrupt",
		[MLI_FAULT_BOMB] = "bomb",
		[MLI_FAULT_SCANS] = "too-many-scans",
		[MLI_FAULT_FORMAT] = "unsupported-format",
		[MLI_FAULT_NOMEM] = "out-of-memory",
	};
	return reason >= 0 && reason < MLI_FAULT_COUNT ? names[reason] : "unknown";
}

void mli_fault_set(struct mli_fault *f, int reason, const char *fmt, ...)
{
	va_list ap;

	f->reason = reason;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
}

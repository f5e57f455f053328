/* winograd_ref.c: the Winograd transforms of the reference table, in
 * 4-float generic vectors (SSE2 on x86-64, plain scalar code where the
 * target has no vectors); winograd_tx.h is the source. */
#define WINO_ISA ref
#define WINO_VW 4
#include "winograd_tx.h"

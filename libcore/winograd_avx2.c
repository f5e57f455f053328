/* winograd_avx2.c: the Winograd transforms of the avx2 kernel table in
 * 8-float vectors, compiled with the AVX2 flags into the avx2 kernel
 * library (winograd_tx.h is the source). */
#define WINO_ISA avx2
#define WINO_VW 8
#include "winograd_tx.h"

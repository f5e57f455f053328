/* winograd_avx512.c: the Winograd transforms of the avx512 kernel table
 * in 16-float vectors, compiled with the AVX-512 flags into the avx512
 * kernel library (winograd_tx.h is the source). */
#define WINO_ISA avx512
#define WINO_VW 16
#include "winograd_tx.h"

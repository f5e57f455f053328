/* cpu.h: what the CPU supports, asked at run time. */
#ifndef MLI_CPU_H
#define MLI_CPU_H

/* Nonzero when the CPU (and the OS) support both AVX2 and FMA. */
int mli_cpu_has_avx2_fma(void);

/* Nonzero when the CPU has AVX-512 F, DQ, BW and VL besides AVX2 and
 * FMA, and the OS saves the opmask and all 32 zmm registers on a context
 * switch (XCR0 bits 1, 2, 5, 6 and 7). Cheap: callable per image. */
int mli_cpu_has_avx512(void);

#endif

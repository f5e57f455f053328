/* cpu.h: what the CPU supports, asked at run time. */
#ifndef MLI_CPU_H
#define MLI_CPU_H

/* Nonzero when the CPU (and the OS) support both AVX2 and FMA. */
int mli_cpu_has_avx2_fma(void);

#endif

/* kernels-peak.h: iters x 14 x 8 fused multiply-adds (iters x 224 flops)
 * in independent chains; returns a value that depends on all of them. */
#ifndef MLI_BENCH_KERNELS_PEAK_H
#define MLI_BENCH_KERNELS_PEAK_H

#define MLI_BENCH_FMA_FLOPS_PER_ITER 224.0

double mli_bench_fma_loop(long iters);

#endif

/* kernels-peak.h: iters x 14 x 8 fused multiply-adds (iters x 224 flops)
 * in independent chains, 256 bits wide, or iters x 14 x 16 (448 flops)
 * 512 bits wide; each returns a value that depends on all of them. */
#ifndef MLI_BENCH_KERNELS_PEAK_H
#define MLI_BENCH_KERNELS_PEAK_H

#define MLI_BENCH_FMA_FLOPS_PER_ITER 224.0
#define MLI_BENCH_FMA512_FLOPS_PER_ITER 448.0

double mli_bench_fma_loop(long iters);
double mli_bench_fma512_loop(long iters);

#endif

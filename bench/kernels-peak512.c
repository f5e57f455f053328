/* kernels-peak512.c: the 512-bit peak-FMA microbenchmark, built with the
 * AVX-512 flags for bench/kernels-run only. Like kernels-peak.c, fourteen
 * independent chains, here of 16-float FMAs. */
#include <immintrin.h>

#include "kernels-peak.h"

double mli_bench_fma512_loop(long iters)
{
	__m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
#define D(i) __m512 a##i = _mm512_set1_ps(0.01f * (i) + 0.1f);
	D(0) D(1) D(2) D(3) D(4) D(5) D(6) D(7) D(8) D(9) D(10) D(11) D(12) D(13)
#undef D
	for (long i = 0; i < iters; i++) {
#define F(x) x = _mm512_fmadd_ps(x, b, c);
		F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9) F(a10) F(a11) F(a12) F(a13)
#undef F
	}
	__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
				 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
	s = _mm512_add_ps(s, _mm512_add_ps(a12, a13));
	/* The sum keeps the chains live; the caller ignores its value. */
	return (double)_mm512_reduce_add_ps(s);
}

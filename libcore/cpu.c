/* cpu.c: CPU feature checks. */
#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int mli_cpu_has_avx2_fma(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return 0;
#endif
}

int mli_cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d, lo, hi;
	/* EBX of leaf 7: AVX512F (16), DQ (17), BW (30), VL (31). */
	const unsigned want = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31;
	/* XCR0: SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7). */
	const unsigned xcr0 = 0x2u | 0x4u | 0x20u | 0x40u | 0x80u;

	if (!mli_cpu_has_avx2_fma())
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (b & want) != want)
		return 0;
	/* xgetbv as raw instruction, so this file needs no -mxsave. */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return (lo & xcr0) == xcr0;
#else
	return 0;
#endif
}

/* cpu.c: CPU feature checks. */
#include "cpu.h"

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
	/* libgcc reads cpuid and XCR0 once, at start-up, and reports a
	 * feature only when the OS saves its registers: asking it costs
	 * nothing, whereas cpuid, in a virtual machine, exits to the
	 * hypervisor for microseconds (and resizers are made per image). */
	return mli_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
	       && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
	       && __builtin_cpu_supports("avx512vl");
#else
	return 0;
#endif
}

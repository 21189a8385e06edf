/*
 * ff_cpu.c -- which instruction sets this CPU, and the OS on it, can run.
 *
 * A SIMD variant may run only when the CPU has its instructions *and* the
 * operating system saves the wider registers on a context switch; the second
 * half is what XGETBV reports (XCR0), and skipping it crashes on kernels or
 * hypervisors that disable AVX-512 state although CPUID advertises it.
 *
 * Bits are (1u << ff_isa); serial is always present.  Off x86, or with a
 * compiler without the cpuid helpers, only serial is reported.
 */
#include "ff_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define FF_X86 1
#include <cpuid.h>
#endif

#ifdef FF_X86
/* XCR0, the register-state components the OS enables.  Inline assembly
 * rather than _xgetbv(), which would need -mxsave on this file. */
static uint64_t ff_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned ff_detect(void) {
    unsigned caps = 1u << FF_ISA_SERIAL;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return caps;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    const int f16c = (c >> 29) & 1; /* the float16 lanes' widening (vcvtph2ps) */
    if (!osxsave || !avx) return caps; /* XGETBV itself needs OSXSAVE */
    const uint64_t xcr0 = ff_xcr0();
    const int ymm_state = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state */
    const int zmm_state = (xcr0 & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return caps;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (ymm_state && avx2 && fma && bmi2 && f16c) caps |= 1u << FF_ISA_AVX2;
    /* The AVX-512 kernel also uses 256-bit AVX2 instructions on the side. */
    if (zmm_state && (caps & (1u << FF_ISA_AVX2)) && f && dq && bw && vl)
        caps |= 1u << FF_ISA_AVX512;
    return caps;
}
#else
static unsigned ff_detect(void) { return 1u << FF_ISA_SERIAL; }
#endif

unsigned ff_cpu_caps(void) {
    /* CPUID is slow (a VM exit under a hypervisor): ask once.  A race only
     * computes the same value twice. */
    static unsigned cached;
    unsigned caps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (caps == 0) {
        caps = ff_detect();
        __atomic_store_n(&cached, caps, __ATOMIC_RELAXED);
    }
    return caps;
}

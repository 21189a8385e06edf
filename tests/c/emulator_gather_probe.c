/*
 * emulator_gather_probe.c -- does this CPU (or emulator) gather correctly
 * when the index register of an AVX2 gather is xmm4?
 *
 * CI runs the C test driver under qemu-x86_64 -cpu max to exercise the AVX2
 * path on a CPU without AVX-512.  QEMU 7.2 (Debian 12's qemu-user) decodes
 * a VSIB byte whose index field is 100b as "no index", the meaning that
 * field has in an ordinary SIB byte, so vgatherdpd with index xmm4 reads
 * base[0] into every lane.  gcc picks xmm4 whenever register allocation
 * lands there, so the driver's results changed with unrelated edits
 * (thousands of mismatches, never on a real CPU).  QEMU 10.0 gathers
 * correctly.  CI runs this first, so that a faulty emulator is named as such
 * instead of showing up as a kernel bug.
 *
 * Exit status 0 when all four lanes are right; 1 (with the lanes) if not.
 * x86-64 only; the instruction is in inline assembly because the fault
 * depends on the register, which no intrinsic can choose.
 */
#include <stdio.h>

int main(void) {
    static const double table[8] = {10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0};
    static const int index[4] = {5, 0, 7, 2};
    double got[4];
    __asm__ volatile("vmovdqu %[idx], %%xmm4\n\t"
                     "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t" /* mask: every lane */
                     "vxorpd %%ymm3, %%ymm3, %%ymm3\n\t"
                     "vgatherdpd %%ymm1, (%[base], %%xmm4, 8), %%ymm3\n\t"
                     "vmovupd %%ymm3, %[out]\n\t"
                     "vzeroupper"
                     : [out] "=m"(got)
                     : [idx] "m"(index), [base] "r"(table)
                     : "xmm1", "xmm3", "xmm4", "memory");
    int ok = 1;
    for (int k = 0; k < 4; ++k) ok &= got[k] == table[index[k]];
    if (!ok) {
        printf("vgatherdpd with index register xmm4 gave %g %g %g %g, expected %g %g %g %g\n",
               got[0], got[1], got[2], got[3], table[5], table[0], table[7], table[2]);
        return 1;
    }
    printf("vgatherdpd with index register xmm4: ok\n");
    return 0;
}

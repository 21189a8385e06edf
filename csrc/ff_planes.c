/*
 * ff_planes.c -- integer frames as byte planes, for the fractions container.
 *
 * Version 3 of the container (src/fastfrac/_io/frames.py) stores each frame
 * of numerators or denominators in the narrowest integer type that holds the
 * frame, with its bytes shuffled into planes: byte 0 of every element, then
 * byte 1 of every element, and so on, little-endian.  A general-purpose codec
 * then sees the long runs of zeros in the high bytes.
 *
 * Done in NumPy this took four passes over the frame (min, max, a cast, a
 * transposed copy): 5.5 ms for 2**20 denominators needing 8 bytes, about
 * what zstd then spent on them.  Here it is one pass for the width and one
 * for the planes, 3.2 ms on the same frame; the AVX2 and AVX-512 packings
 * (ff_simd.h) take 1.2 and 0.9 ms for 2**20 values of 4 bytes, against this
 * file's 2.0-2.5 ms.
 * The low w bytes of an int64 are the w-byte value whenever it fits, signed
 * or not, so packing never needs the signedness; unpacking does, to extend
 * the sign.
 */
#include <string.h>

#include "ff_kernels.h"

int ff_width_of_bits(uint64_t any, uint64_t magnitude, int *is_signed) {
    /* An unsigned w-byte type holds the values iff their OR is below
     * 2**(8w); a signed one iff the OR of x ^ (x >> 63) (x itself, or -x - 1
     * for a negative x) is below 2**(8w-1). */
    int negative = (int)(any >> 63);
    uint64_t bits = negative ? magnitude << 1 : any;
    *is_signed = negative;
    return bits < 0x100 ? 1 : bits < 0x10000 ? 2 : bits < 0x100000000 ? 4 : 8;
}

int ff_i64_narrowest(const int64_t *v, size_t n, int *is_signed) {
    /* Bit operations only, so that the loop vectorizes on baseline SSE2 (it
     * has no 64-bit compare for a min/max). */
    uint64_t any = 0, magnitude = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = (uint64_t)v[i];
        any |= u;
        magnitude |= u ^ (0 - (u >> 63));
    }
    return ff_width_of_bits(any, magnitude, is_signed);
}

/* The 8x8 byte matrix whose row r is m[r] (byte c of the row being bits
 * 8c..8c+7), transposed in place: row j then holds byte j of every input
 * row.  Three rounds of swapping blocks of 1, 2 and 4 bytes between rows
 * 1, 2 and 4 apart, four shift-and-mask exchanges each. */
#define FF_SWAP_BLOCKS(a, b, shift, mask)                                   \
    do {                                                                    \
        uint64_t t = ((m[a] >> (shift)) ^ m[b]) & (mask);                   \
        m[b] ^= t;                                                          \
        m[a] ^= t << (shift);                                               \
    } while (0)

static inline void transpose8x8(uint64_t m[8]) {
    const uint64_t bytes = UINT64_C(0x00FF00FF00FF00FF);
    const uint64_t pairs = UINT64_C(0x0000FFFF0000FFFF);
    const uint64_t quads = UINT64_C(0x00000000FFFFFFFF);
    FF_SWAP_BLOCKS(0, 1, 8, bytes);
    FF_SWAP_BLOCKS(2, 3, 8, bytes);
    FF_SWAP_BLOCKS(4, 5, 8, bytes);
    FF_SWAP_BLOCKS(6, 7, 8, bytes);
    FF_SWAP_BLOCKS(0, 2, 16, pairs);
    FF_SWAP_BLOCKS(1, 3, 16, pairs);
    FF_SWAP_BLOCKS(4, 6, 16, pairs);
    FF_SWAP_BLOCKS(5, 7, 16, pairs);
    FF_SWAP_BLOCKS(0, 4, 32, quads);
    FF_SWAP_BLOCKS(1, 5, 32, quads);
    FF_SWAP_BLOCKS(2, 6, 32, quads);
    FF_SWAP_BLOCKS(3, 7, 32, quads);
}

/* Whole blocks of 8 elements go through the transpose and leave as one
 * 8-byte store per plane (against 8 one-byte stores); little-endian only,
 * since a stored row's first byte must be its element 0.  The rest, and a
 * big-endian host, take the byte loop. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FF_PLANES_BLOCKS 1
#else
#define FF_PLANES_BLOCKS 0
#endif

/* The reference for the SIMD variants (ff_simd.h), which ff_i64_to_planes
 * (ff_dispatch.c) calls where the CPU has them; the width is checked there. */
void ff_i64_to_planes_serial(const int64_t *v, size_t n, int width, uint8_t *planes) {
    size_t i = 0;
    if (width == 1) {
        for (; i < n; i++) planes[i] = (uint8_t)v[i];
        return;
    }
    if (FF_PLANES_BLOCKS) {
        for (; i + 8 <= n; i += 8) {
            uint64_t m[8];
            for (int r = 0; r < 8; r++) m[r] = (uint64_t)v[i + r];
            transpose8x8(m);
            for (int j = 0; j < width; j++) memcpy(planes + (size_t)j * n + i, &m[j], 8);
        }
    }
    for (; i < n; i++) {
        uint64_t u = (uint64_t)v[i];
        for (int j = 0; j < width; j++) planes[(size_t)j * n + i] = (uint8_t)(u >> (8 * j));
    }
}

int ff_planes_to_i64(const uint8_t *planes, size_t n, int width, int is_signed, int64_t *out) {
    if (width != 1 && width != 2 && width != 4 && width != 8) return -1;
    /* Sign extension of bit 8*width - 1: (u ^ sign) - sign. */
    const uint64_t sign = is_signed && width < 8 ? (uint64_t)1 << (8 * width - 1) : 0;
    size_t i = 0;
    if (FF_PLANES_BLOCKS && width > 1) {
        for (; i + 8 <= n; i += 8) {
            uint64_t m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int j = 0; j < width; j++) memcpy(&m[j], planes + (size_t)j * n + i, 8);
            transpose8x8(m); /* its own inverse */
            for (int r = 0; r < 8; r++) out[i + r] = (int64_t)((m[r] ^ sign) - sign);
        }
    }
    for (; i < n; i++) {
        uint64_t u = 0;
        for (int j = 0; j < width; j++) u |= (uint64_t)planes[(size_t)j * n + i] << (8 * j);
        out[i] = (int64_t)((u ^ sign) - sign);
    }
    return 0;
}

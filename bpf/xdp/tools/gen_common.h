// SPDX-License-Identifier: Apache-2.0
// What the benchmark's packet generators (afpacket_gen.c, xdp_livegen.c) share: a monotonic clock
// in seconds and the frame given on the command line as hex. Header-only: each tool is built
// from its one .c file (bench/xdp.bench.ts runs `cc -O2 -o <tool> <tool>.c`).
#ifndef GEN_COMMON_H
#define GEN_COMMON_H

#include <stdio.h>
#include <string.h>
#include <time.h>

static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// Decodes the hex string `s` into `out`; the byte count, or -1 if it is odd-length, longer than
// `max` bytes or not hex.
static inline int unhex(const char *s, unsigned char *out, size_t max) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > max) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (unsigned char)v;
  }
  return (int)(n / 2);
}

#endif

// SPDX-License-Identifier: Apache-2.0
// A packet generator for bench/xdp.bench.ts (built there with cc; not part of the agent):
// BPF_PROG_TEST_RUN in live-frame mode. The kernel runs the XDP program on <frames> copies of the
// frame as if <ifname> had received them, and really does what the program says: XDP_REDIRECT
// transmits, XDP_PASS hands the frame to the stack as an skb from <ifname>, as a driver would.
// Prints {"frames":N,"seconds":S,"durationNs":D} (wall time of the run; the kernel's average).
//
//   xdp_livegen <ifname> <frame as hex> <frames> [batch]     (program fd: 3, inherited)
//
// Run it inside the namespace of <ifname> (ip netns exec). Why not the addon's testRun: the
// kernel refuses live frames with data_out/ctx_out (-EINVAL), which the addon always passes.
#include <linux/bpf.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gen_common.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <ifname> <frame-hex> <frames> [batch]  (program fd 3)\n", argv[0]);
    return 2;
  }
  static unsigned char frame[4096];
  int len = unhex(argv[2], frame, sizeof frame);
  unsigned frames = (unsigned)strtoul(argv[3], NULL, 10);
  unsigned batch = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 64;
  unsigned ifindex = if_nametoindex(argv[1]);
  if (len < 14 || !frames || !ifindex) {
    fprintf(stderr, "bad arguments (or no interface %s)\n", argv[1]);
    return 2;
  }
  struct xdp_md ctx = {.data = 0, .data_end = (uint32_t)len, .ingress_ifindex = ifindex};
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = 3;
  attr.test.data_in = (uint64_t)(uintptr_t)frame;
  attr.test.data_size_in = (uint32_t)len;
  attr.test.ctx_in = (uint64_t)(uintptr_t)&ctx;
  attr.test.ctx_size_in = sizeof ctx;
  attr.test.repeat = frames;
  attr.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
  attr.test.batch_size = batch;
  double t0 = now();
  if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr)) {
    perror("bpf(BPF_PROG_TEST_RUN, live frames)");
    return 1;
  }
  printf("{\"frames\":%u,\"seconds\":%.6f,\"durationNs\":%u}\n", frames, now() - t0, attr.test.duration);
  return 0;
}

// SPDX-License-Identifier: GPL-2.0
// Backend probes for the tracer (src/trace/backend.ts): the smallest program of each kind. User
// space loads one at a time (autoload) and attaches it to one real target; whether that works is
// what decides the backend, with the kernel's own error as the reason when it does not.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ipft.h"

char LICENSE[] SEC("license") = "GPL";

// The same target-index marker as the real programs, so the probe attaches through the very
// cloning path the tracer uses.
static __always_inline int marker(void) {
  __u64 id;
  asm volatile("%0 = " IPFT_FUNC_ID_MARKER_ASM " ll" : "=r"(id));
  return (int)(id & 0);
}

SEC("fentry")
int probe_fentry(void *ctx) {
  return marker();
}

SEC("kprobe.multi")
int probe_kprobe_multi(void *ctx) {
  return 0;
}

SEC("kprobe")
int probe_kprobe(void *ctx) {
  return 0;
}

SEC("tp_btf")
int probe_tp_btf(void *ctx) {
  return marker();
}

// SPDX-License-Identifier: GPL-2.0
// Capability probe (src/capabilities/bpf-prober.ts): does bpf_fib_lookup honour
// BPF_FIB_LOOKUP_TBID (kernel >= 6.8)? The XDP offload's End.DT* lookups need it: without it the
// helper refuses the flags (-EINVAL) and every packet would be passed to the kernel.
//
// Run once through BPF_PROG_TEST_RUN in the probe namespace. The packet carries the question and
// gets the answer: bytes 0-3 the table (host order), 4-7 an IPv4 destination only that table
// routes (network order); the program looks it up directly in that table from the ingress device
// and writes the helper's return value over bytes 0-3 (host order, signed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2

SEC("xdp")
int fib_tbid_probe(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 *q = data;
  if ((void *)(q + 2) > data_end) return XDP_ABORTED;

  struct bpf_fib_lookup fib = {};
  fib.family = AF_INET;
  fib.ifindex = ctx->ingress_ifindex;
  fib.tbid = q[0];
  fib.ipv4_dst = q[1];
  long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID);
  q[0] = (__u32)(__s32)rc;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

// Deliberately rejected by the verifier: reads the packet without a bounds check.
// src/bpf/libbpf.kernel.ts checks that the verifier's explanation reaches the JS error.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_reject(struct xdp_md *ctx) {
  __u8 *data = (void *)(long)ctx->data;
  return data[0] ? XDP_PASS : XDP_DROP;  // no `data + 1 <= data_end` check
}

char LICENSE[] SEC("license") = "GPL";

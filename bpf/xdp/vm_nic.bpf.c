// SPDX-License-Identifier: GPL-2.0
// The "VM NIC" of test and benchmark topologies: attached to the VM end of a tenant veth pair,
// inside the VM's namespace. Not part of the datapath.
//
// Why it exists: XDP_REDIRECT into a veth (veth_ndo_xdp_xmit) hands the frame to the PEER's
// receive ring, which only has a NAPI instance when the peer has an XDP program attached (or GRO
// enabled). Without one the frame is dropped (-ENXIO). Real VMs sit behind tap devices, which
// take XDP frames without this; veth-based tenants need it.
//
// It also observes what the VM receives, independently of the program under test: a per-CPU
// packet counter, and optionally the first bytes of every frame in a ring buffer; and it can
// drop what it counted (a sink for packets/s benchmarks).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NIC_SNAP 256

// 1: count and drop (benchmark sink); 0: count and pass to the VM's stack.
const volatile __u32 nic_drop = 0;
// 1: copy every frame's first NIC_SNAP bytes into nic_frames.
const volatile __u32 nic_record = 0;

// One ring buffer sample per received frame.
struct nic_frame {
  __u32 len;             // frame length
  __u8 data[NIC_SNAP];   // its first min(len, NIC_SNAP) bytes
};

// Frames received, per CPU (slot 0).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} nic_packets SEC(".maps");

// Received frames, when nic_record is set.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} nic_frames SEC(".maps");

SEC("xdp")
int vm_nic_rx(struct xdp_md *ctx) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&nic_packets, &zero);
  if (n) *n += 1;  // per-CPU slot: no atomics needed

  if (nic_record) {
    __u64 len = ctx->data_end - ctx->data;
    struct nic_frame *f = bpf_ringbuf_reserve(&nic_frames, sizeof(*f), 0);
    if (f) {
      __s64 snap = len < NIC_SNAP ? (__s64)len : NIC_SNAP;
      int done = 0;
      f->len = len;
      // Verifier (seen on 6.12): bpf_xdp_load_bytes needs a length provably in [1, NIC_SNAP], on
      // the register passed to it. clang folds `snap >= 1 && snap <= NIC_SNAP` into one compare
      // of `snap - 1`, whose bounds older verifiers do not carry back to `snap`: one test at a
      // time, each after an empty asm that makes it apply to `snap` itself.
      asm volatile("" : "+r"(snap));
      if (snap >= 1) {
        asm volatile("" : "+r"(snap));
        if (snap <= NIC_SNAP && bpf_xdp_load_bytes(ctx, 0, f->data, snap) == 0) done = 1;
      }
      if (done)
        bpf_ringbuf_submit(f, 0);
      else
        bpf_ringbuf_discard(f, 0);
    }
  }
  return nic_drop ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

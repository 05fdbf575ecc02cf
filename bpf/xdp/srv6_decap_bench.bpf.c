// SPDX-License-Identifier: GPL-2.0
// Benchmark build of srv6_decap.bpf.c (bench/xdp.bench.ts; never loaded by the agent).
//
// BPF_PROG_TEST_RUN with `repeat` runs the program again and again on the SAME buffer: after the
// first redirect the outer headers are gone and every later iteration would measure the cheap
// "not IPv6" pass. srv6_xdp_decap_bench first puts the original frame back (move the start back
// with bpf_xdp_adjust_head, copy the frame from bench_frame), then runs the real program's code.
// srv6_xdp_restore_only does the restoring alone: the benchmark subtracts its time (including the
// one bpf_xdp_adjust_head that moves the start as a decap does, so the program's own
// adjust_head is not counted: ≈ 3 ns, stated with the results).
// With BPF_PROG_TEST_RUN's live frames (a generator: bpf/xdp/tools/xdp_livegen.c) pages are
// recycled with whatever the last user wrote into them, so the same restoring makes every frame
// the original: srv6_xdp_decap_bench is the offload, srv6_xdp_restore_only (shift 0) hands the
// frame to the kernel's stack, srv6_xdp_restore_drop measures the generator's own cost.
#include "srv6_decap.bpf.c"

#define BENCH_MAX 256

// The frame every iteration starts from (set by the benchmark).
struct bench_frame {
  __u32 len;
  __u32 shift;  // srv6_xdp_restore_only: bytes to move the start by afterwards (what a decap
                // strips), so that it restores from the same state srv6_xdp_decap_bench does
  __u8 data[BENCH_MAX];
};

// One slot: the frame to restore.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct bench_frame);
} bench_frame SEC(".maps");

static __always_inline struct bench_frame *frame(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&bench_frame, &zero);
}

static __always_inline int restore(struct xdp_md *ctx) {
  struct bench_frame *f = frame();
  if (!f) return -1;
  __s64 want = f->len;
  // Verifier: bpf_xdp_store_bytes needs a length provably in [1, BENCH_MAX] on the register
  // passed to it; clang would fold the two tests into one compare of `want - 1`, which older
  // verifiers (6.12) do not carry back to `want`. One test at a time, each after an empty asm.
  asm volatile("" : "+r"(want));
  if (want < 1) return -1;
  asm volatile("" : "+r"(want));
  if (want > BENCH_MAX) return -1;
  long have = (long)ctx->data_end - (long)ctx->data;
  if (have != (long)want && bpf_xdp_adjust_head(ctx, (int)(have - (long)want))) return -1;
  return bpf_xdp_store_bytes(ctx, 0, f->data, want) ? -1 : 0;
}

SEC("xdp")
int srv6_xdp_decap_bench(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  return srv6_decap(ctx, SRV6_RUN_ALL);
}

// The stages (srv6_stage): everything up to the fib lookup, and up to its success. Neither
// changes the frame, so they are timed against srv6_xdp_restore_unshifted.
SEC("xdp")
int srv6_xdp_until_fib(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  return srv6_decap(ctx, SRV6_STOP_BEFORE_FIB);
}

SEC("xdp")
int srv6_xdp_through_fib(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  return srv6_decap(ctx, SRV6_STOP_AFTER_FIB);
}

// The restoring of an unchanged frame (no adjust_head: the start never moves).
SEC("xdp")
int srv6_xdp_restore_unshifted(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  return XDP_DROP;
}

// The test run's own cost per repetition: the floor of any program.
SEC("xdp")
int srv6_xdp_floor(struct xdp_md *ctx) {
  return XDP_PASS;
}

SEC("xdp")
int srv6_xdp_restore_only(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  struct bench_frame *f = frame();
  if (f && f->shift && bpf_xdp_adjust_head(ctx, (int)(f->shift & 0xff))) return XDP_ABORTED;
  return XDP_PASS;
}

SEC("xdp")
int srv6_xdp_restore_drop(struct xdp_md *ctx) {
  if (restore(ctx)) return XDP_ABORTED;
  return XDP_DROP;
}

// Test program for the libbpf layer (src/bpf/libbpf.kernel.ts), not part of the datapath.
// It touches every feature the wrapper exposes: a `const volatile` global, a hash map, a per-CPU
// array, a ring buffer, packet rewrite (seen through BPF_PROG_TEST_RUN) and a second program for
// atomic bpf_link replacement. The test encodes these layouts itself (they are small and fixed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// Value of `verdicts`: what to do with a packet whose first 4 bytes are the key.
struct verdict {
  __u32 action;  // XDP_* return code
  __u8 mark;     // written into packet byte 4
  __u8 pad[3];
};

// Ring buffer sample, one per packet.
struct event {
  __u32 key;     // first 4 bytes of the packet (0 if shorter)
  __u32 action;  // verdict returned
  __u32 len;     // packet length
};

// Verdict for packets with no entry in `verdicts`; set by the loader before load.
const volatile __u32 default_verdict = XDP_PASS;

// Per-packet verdicts keyed by the packet's first 4 bytes.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct verdict);
} verdicts SEC(".maps");

// Packets seen, per CPU (slot 0 only).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

// One `struct event` per packet.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline void count(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&counters, &zero);
  if (n) *n += 1;  // per-CPU slot: no atomics needed
}

static __always_inline void emit(__u32 key, __u32 action, __u32 len) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return;  // ring full: the sample is lost, the packet is not
  e->key = key;
  e->action = action;
  e->len = len;
  bpf_ringbuf_submit(e, 0);
}

SEC("xdp")
int xdp_test_main(struct xdp_md *ctx) {
  __u8 *data = (void *)(long)ctx->data;
  __u8 *data_end = (void *)(long)ctx->data_end;
  __u32 len = data_end - data;
  __u32 action = default_verdict;
  __u32 key = 0;

  count();
  if (data + 5 <= data_end) {
    __builtin_memcpy(&key, data, sizeof(key));
    struct verdict *v = bpf_map_lookup_elem(&verdicts, &key);
    if (v) {
      action = v->action;
      data[4] = v->mark;
    }
  }
  emit(key, action, len);
  return action;
}

// Replacement program for the bpf_link update test.
SEC("xdp")
int xdp_test_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

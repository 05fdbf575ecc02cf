// SPDX-License-Identifier: GPL-2.0
// The tracer's probes (src/trace/): for every kernel function or tracepoint that sees an skb,
// report the skbs whose mark matches, with their GSO state, on a ring buffer.
//
// One program per backend and skb argument slot (the skb's 64-bit slot in the trampoline context,
// the tracepoint's arguments, or the argument register), because a program reads its skb from a
// fixed place. User space loads only the programs of the backend it uses (autoload), fixes each
// trampoline program's target before load, and then:
//   fentry/fexit/tp_btf: clones the loaded program once per target (a trampoline program is
//     verified against one function), writing the target's index over IPFT_FUNC_ID_MARKER;
//   kprobe/kprobe.multi: attaches the one program to every target, the index as the bpf cookie.
// Everything is read with CO-RE (bpf_probe_read_kernel underneath), so a program is valid for
// any target that passes an skb in its slot, whatever else the target's arguments are.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipft.h"

char LICENSE[] SEC("license") = "GPL";

// Filters, set by the loader: (skb->mark & filter_mask) == (filter_mark & filter_mask); a zero
// filter_netns (inode) or filter_ifindex matches everything.
const volatile __u32 filter_mark = 0;
const volatile __u32 filter_mask = 0xffffffff;
const volatile __u32 filter_netns = 0;
const volatile __u32 filter_ifindex = 0;

// Events to user space; the size (a power of two, in bytes) is set by the loader.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);
} events SEC(".maps");

// Per-CPU counters: IPFT_CNT_HIT, IPFT_CNT_LOST.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, IPFT_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

// Per CPU: the last skb that matched, so that net_dev_xmit (whose skb may already be freed, so
// its mark cannot be read) reports exactly the skbs net_dev_start_xmit matched on this CPU.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} last_skb SEC(".maps");

// Slot 0: non-zero once user space stops the trace. Detaching thousands of trampolines takes
// the kernel a grace period each; a stopped trace must not report anything meanwhile, so the
// results are final (and shown) at once and the detach happens after.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} control SEC(".maps");

static __always_inline bool stopped(void) {
  __u32 zero = 0;
  __u32 *c = bpf_map_lookup_elem(&control, &zero);
  return !c || *c;
}

static __always_inline void count(__u32 slot) {
  __u64 *c = bpf_map_lookup_elem(&counters, &slot);
  if (c) *c += 1;  // per-CPU slot: no other writer
}

// The target index. An ld_imm64 from inline asm so that it stays one recognisable instruction
// (the compiler would otherwise fold a constant into stores) that user space rewrites per clone.
static __always_inline __u32 func_id_marker(void) {
  __u64 id;
  asm volatile("%0 = " IPFT_FUNC_ID_MARKER_ASM " ll" : "=r"(id));
  return (__u32)id;
}

static __always_inline __u32 netns_of(struct sk_buff *skb, struct net_device *dev) {
  if (dev) return BPF_CORE_READ(dev, nd_net.net, ns.inum);
  struct sock *sk = BPF_CORE_READ(skb, sk);
  if (sk) return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  return 0;
}

// net_dev_start_xmit remembers, per CPU, its skb if it matched and 0 if not: xmit_one() runs
// net_dev_start_xmit, the driver, then net_dev_xmit for the same skb on this CPU, so net_dev_xmit
// can tell whether its (possibly freed, possibly reused) skb is one that matched.
static __always_inline void remember(__u64 skb) {
  __u32 zero = 0;
  __u64 *last = bpf_map_lookup_elem(&last_skb, &zero);
  if (last) *last = skb;
}

static __always_inline bool filtered_out(struct sk_buff *skb, __u32 *mark, struct net_device **dev, __u32 *ifindex,
                                         __u32 *netns) {
  *mark = BPF_CORE_READ(skb, mark);
  if ((*mark & filter_mask) != (filter_mark & filter_mask)) return true;
  *dev = BPF_CORE_READ(skb, dev);
  *ifindex = *dev ? BPF_CORE_READ(*dev, ifindex) : 0;
  if (filter_ifindex && *ifindex != filter_ifindex) return true;
  *netns = netns_of(skb, *dev);
  return filter_netns && *netns != filter_netns;
}

static __always_inline int trace_skb(struct sk_buff *skb, __u32 func_id, __u8 is_return, __s64 retval,
                                     bool start_xmit) {
  if (!skb || stopped()) return 0;  // no skb: e.g. tcp_send_reset
  __u32 mark = 0, ifindex = 0, netns = 0;
  struct net_device *dev = NULL;
  bool out = filtered_out(skb, &mark, &dev, &ifindex, &netns);
  if (start_xmit) remember(out ? 0 : (__u64)skb);
  if (out) return 0;

  count(IPFT_CNT_HIT);
  struct ipft_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count(IPFT_CNT_LOST);  // never silent: user space reports it
    return 0;
  }
  e->skb = (__u64)skb;
  e->tstamp = bpf_ktime_get_ns();
  e->retval = retval;
  e->func_id = func_id;
  e->cpu = bpf_get_smp_processor_id();
  e->len = BPF_CORE_READ(skb, len);
  e->data_len = BPF_CORE_READ(skb, data_len);
  e->mark = mark;
  e->ifindex = ifindex;
  e->netns = netns;
  // skb_shinfo(skb): the shared info sits at head + end (64-bit kernels keep `end` as an offset).
  unsigned char *head = BPF_CORE_READ(skb, head);
  __u32 end = BPF_CORE_READ(skb, end);
  struct skb_shared_info *si = (struct skb_shared_info *)(head + end);
  e->gso_type = BPF_CORE_READ(si, gso_type);
  e->gso_size = BPF_CORE_READ(si, gso_size);
  e->gso_segs = BPF_CORE_READ(si, gso_segs);
  e->protocol = BPF_CORE_READ(skb, protocol);
  e->inner_protocol = BPF_CORE_READ(skb, inner_protocol);
  e->is_return = is_return;
  e->flags = BPF_CORE_READ_BITFIELD_PROBED(skb, encapsulation) ? IPFT_F_ENCAPSULATION : 0;
  __builtin_memset(e->pad, 0, sizeof(e->pad));
  bpf_ringbuf_submit(e, 0);
  return 0;
}

// ---- trampolines (fentry, fexit) and BTF tracepoints: the skb is a 64-bit context slot ----

#define FENTRY(n)                                                   \
  SEC("fentry")                                                     \
  int ipft_fentry_##n(__u64 *ctx) {                                 \
    return trace_skb((struct sk_buff *)ctx[n], func_id_marker(), 0, 0, false); \
  }

// The skb may be freed by the function itself (kfree_skb): probe reads stay safe, values may not.
#define FEXIT(n)                                                          \
  SEC("fexit")                                                            \
  int ipft_fexit_##n(__u64 *ctx) {                                        \
    __u64 ret = 0;                                                        \
    bpf_get_func_ret(ctx, &ret);                                          \
    return trace_skb((struct sk_buff *)ctx[n], func_id_marker(), 1, (__s64)ret, false); \
  }

#define TP_BTF(n)                                                   \
  SEC("tp_btf")                                                     \
  int ipft_tp_##n(__u64 *ctx) {                                     \
    return trace_skb((struct sk_buff *)ctx[n], func_id_marker(), 0, 0, false); \
  }

FENTRY(0) FENTRY(1) FENTRY(2) FENTRY(3) FENTRY(4) FENTRY(5)
FENTRY(6) FENTRY(7) FENTRY(8) FENTRY(9) FENTRY(10) FENTRY(11)
FEXIT(0) FEXIT(1) FEXIT(2) FEXIT(3) FEXIT(4) FEXIT(5)
FEXIT(6) FEXIT(7) FEXIT(8) FEXIT(9) FEXIT(10) FEXIT(11)
TP_BTF(0) TP_BTF(1) TP_BTF(2) TP_BTF(3) TP_BTF(4) TP_BTF(5)

// net:net_dev_start_xmit(skb, dev): as any tracepoint, and it remembers its skb for net_dev_xmit.
SEC("tp_btf")
int ipft_tp_net_dev_start_xmit(__u64 *ctx) {
  return trace_skb((struct sk_buff *)ctx[0], func_id_marker(), 0, 0, true);
}

// net:net_dev_xmit(skb, rc, dev, skb_len) fires after the driver took the skb: it may be freed
// (veth hands it to the peer, which can consume it on another CPU first) and its address reused.
// Report it only if net_dev_start_xmit matched this very skb on this CPU just before, with
// pointer, length and device from the tracepoint's own arguments, and nothing read through the
// skb.
SEC("tp_btf")
int ipft_tp_net_dev_xmit(__u64 *ctx) {
  __u64 skb = ctx[0];
  __u32 zero = 0;
  __u64 *last = bpf_map_lookup_elem(&last_skb, &zero);
  if (!skb || !last || *last != skb || stopped()) return 0;
  struct net_device *dev = (struct net_device *)ctx[2];
  count(IPFT_CNT_HIT);
  struct ipft_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count(IPFT_CNT_LOST);
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->skb = skb;
  e->tstamp = bpf_ktime_get_ns();
  e->retval = (__s32)ctx[1];
  e->func_id = func_id_marker();
  e->cpu = bpf_get_smp_processor_id();
  e->len = (__u32)ctx[3];
  e->ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
  e->netns = dev ? BPF_CORE_READ(dev, nd_net.net, ns.inum) : 0;
  e->flags = IPFT_F_PARTIAL;
  bpf_ringbuf_submit(e, 0);
  return 0;
}

// ---- kprobes: the skb is an argument register; the target index is the bpf cookie ----

#define KPROBE(slot, parm, sec, prefix)                                                \
  SEC(sec)                                                                              \
  int prefix##slot(struct pt_regs *ctx) {                                               \
    return trace_skb((struct sk_buff *)PT_REGS_PARM##parm(ctx), (__u32)bpf_get_attach_cookie(ctx), 0, 0, false); \
  }

// Slot n is argument register n + 1 (PT_REGS_PARM is 1-based).
#define PARM_SLOTS(sec, prefix)                                                       \
  KPROBE(0, 1, sec, prefix) KPROBE(1, 2, sec, prefix) KPROBE(2, 3, sec, prefix)        \
  KPROBE(3, 4, sec, prefix) KPROBE(4, 5, sec, prefix)

PARM_SLOTS("kprobe", ipft_kprobe_)
PARM_SLOTS("kprobe.multi", ipft_kmulti_)

// SPDX-License-Identifier: GPL-2.0
// XDP offload of SRv6 decapsulation: End.DT4, End.DT6, End.DT46, End.DX4, End.DX6.
//
// For a packet whose outer IPv6 destination is a SID in srv6_sids, with no SRH (reduced
// encapsulation) or an SRH whose segments left is 0, and an inner packet of a family the SID's
// behaviour serves:
//   1. bpf_fib_lookup, BEFORE the packet is touched: the tenant table (TBID|DIRECT) for End.DT*,
//      the configured next hop (input lookup, with the policy rules, as the kernel's End.DX4/DX6
//      do) for End.DX*;
//   2. only on BPF_FIB_LKUP_RET_SUCCESS, and only towards a device user space allowed
//      (srv6_egress): strip the outer headers, rewrite the MACs from the fib result, decrement
//      the inner TTL/hop limit exactly as ip_forward/ip6_forward do, bpf_redirect.
// Everything else is XDP_PASS with the packet unchanged, so the kernel's own seg6local route
// handles it. The offload may only make a packet faster, never make it different: when in doubt
// (anything the kernel's forwarding path treats specially), pass. ADR 0004 lists the cases.
//
// Layouts: srv6_xdp.h (mirrored by src/xdp/layout.ts). Loader: src/xdp/xdp-offload.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/seg6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "srv6_xdp.h"

#define AF_INET 2
#define AF_INET6 10
#define IPV6_SRCRT_TYPE_4 4
#define RT_TABLE_MAIN 254
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_ESP 50
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define NEXTHDR_MOBILITY 135
#define NEXTHDR_HIP 139
#define NEXTHDR_SHIM6 140

// ---- load-time configuration (set by the loader before load; the verifier prunes dead code) ----

// 1: shadow mode for every SID: count what would be redirected, pass everything.
const volatile __u32 cfg_shadow = 0;
// 1: bpf_printk every pass reason (/sys/kernel/tracing/trace_pipe). Off in production.
const volatile __u32 cfg_debug = 0;

// ---- the enums user space mirrors (src/xdp/layout.ts), kept in the object's BTF ----

// Never read. Clang writes a type into BTF only when something refers to it; these two keep the
// enums there for user space's layout check (src/xdp/layout-btf.spec.ts). .rodata exists anyway.
const volatile enum srv6_xdp_action btf_srv6_xdp_action = SRV6_XDP_ACT_NONE;
const volatile enum srv6_xdp_reason btf_srv6_xdp_reason = SRV6_XDP_REDIRECT;

// ---- maps (pinned by name under the loader's pin directory: they survive agent restarts) ----

// SID -> behaviour; the reconciler keeps it equal to the offloaded tenants' SIDs.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SRV6_XDP_MAX_SIDS);
  __type(key, struct srv6_sid_key);
  __type(value, struct srv6_sid);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} srv6_sids SEC(".maps");

// Per-SID counters, per CPU, at the slot the SID's stats_idx names.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SRV6_XDP_MAX_SIDS);
  __type(key, __u32);
  __type(value, struct srv6_sid_stats);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} srv6_sid_stats SEC(".maps");

// Packets by verdict reason (enum srv6_xdp_reason), per CPU, for every packet the program sees.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SRV6_XDP_REASON_MAX);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} srv6_reasons SEC(".maps");

// Devices packets may be redirected to (tenant interfaces able to take XDP frames): an
// open-addressing table of ifindexes, see struct srv6_egress.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SRV6_EGRESS_SLOTS);
  __type(key, __u32);
  __type(value, struct srv6_egress);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} srv6_egress SEC(".maps");

// Identity of the loaded program (written by user space only; the program never reads it).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct srv6_meta);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} srv6_meta SEC(".maps");

// ---- counting ----

static __always_inline void count_reason(__u32 reason) {
  __u64 *n = bpf_map_lookup_elem(&srv6_reasons, &reason);
  if (n) *n += 1;  // per-CPU slot: no atomics needed
}

// Leaves the packet to the kernel, unchanged. `st` is the SID's counters (NULL before the SID
// lookup, or when its slot is out of range).
static __always_inline int pass(struct srv6_sid_stats *st, __u32 reason) {
  if (reason >= SRV6_XDP_REASON_MAX) reason = SRV6_XDP_PASS_ERROR;
  if (st) st->pass[reason] += 1;
  count_reason(reason);
  if (cfg_debug) bpf_printk("srv6_xdp: pass, reason %u", reason);
  return XDP_PASS;
}

// ---- parsing: a cursor over the packet, bounds-checked before every header access ----

struct cursor {
  void *pos;
  void *end;
};

// The next `len` bytes, or NULL if the packet is shorter.
static __always_inline void *take(struct cursor *c, __u32 len) {
  void *p = c->pos;
  if (p + len > c->end) return NULL;
  c->pos = p + len;
  return p;
}

// Sources the kernel drops before (ipv6_rcv) or instead of forwarding: multicast, loopback,
// unspecified, v4-mapped (network order words).
static __always_inline int outer_src_martian(const __u32 *a) {
  if ((bpf_ntohl(a[0]) >> 24) == 0xff) return 1;
  if (a[0] == 0 && a[1] == 0) {
    if (a[2] == 0 && (a[3] == 0 || a[3] == bpf_htonl(1))) return 1;
    if (a[2] == bpf_htonl(0x0000ffff)) return 1;
  }
  return 0;
}

// Inner IPv6 addresses ip6_forward/ip6_route_input treat specially: multicast, link-local,
// loopback, unspecified.
static __always_inline int addr6_special(const __u32 *a) {
  __u32 w0 = bpf_ntohl(a[0]);
  if ((w0 >> 24) == 0xff) return 1;           // ff00::/8
  if ((w0 & 0xffc00000) == 0xfe800000) return 1;  // fe80::/10
  if (w0 == 0 && a[1] == 0 && a[2] == 0 && (a[3] == 0 || a[3] == bpf_htonl(1))) return 1;
  return 0;
}

// Inner IPv4 addresses ip_route_input treats as martian or non-unicast: 0/8, 127/8, 224/4,
// 255.255.255.255.
static __always_inline int addr4_special(__be32 a) {
  __u32 h = bpf_ntohl(a);
  __u32 top = h >> 24;
  return top == 0 || top == 127 || (top & 0xf0) == 0xe0 || h == 0xffffffff;
}

static __always_inline __u32 fib_reason(long rc) {
  switch (rc) {
  case BPF_FIB_LKUP_RET_SUCCESS:
    return SRV6_XDP_REDIRECT;
  case BPF_FIB_LKUP_RET_BLACKHOLE:
  case BPF_FIB_LKUP_RET_UNREACHABLE:
  case BPF_FIB_LKUP_RET_PROHIBIT:
  case BPF_FIB_LKUP_RET_NOT_FWDED:
    return SRV6_XDP_PASS_NO_ROUTE;
  case BPF_FIB_LKUP_RET_FWD_DISABLED:
    return SRV6_XDP_PASS_FWD_DISABLED;
  case BPF_FIB_LKUP_RET_UNSUPP_LWT:
    return SRV6_XDP_PASS_FIB_LWT;
  case BPF_FIB_LKUP_RET_NO_NEIGH:
    return SRV6_XDP_PASS_NO_NEIGH;
  case BPF_FIB_LKUP_RET_FRAG_NEEDED:
    return SRV6_XDP_PASS_FRAG_NEEDED;
  default:  // negative errno (bad arguments) or a return code newer than this program
    return SRV6_XDP_PASS_ERROR;
  }
}

// Whether user space listed `ifindex` in srv6_egress (see struct srv6_egress).
static __always_inline int egress_listed(__u32 ifindex) {
  __u32 slot = srv6_egress_slot(ifindex);
  for (__u32 i = 0; i < SRV6_EGRESS_PROBES; i++) {  // bounded: the verifier unrolls nothing
    __u32 k = (slot + i) & (SRV6_EGRESS_SLOTS - 1);
    struct srv6_egress *e = bpf_map_lookup_elem(&srv6_egress, &k);
    if (!e || e->ifindex == 0) return 0;  // an empty slot ends the chain
    if (e->ifindex == ifindex) return 1;
  }
  return 0;
}

// Whether the fib's egress may take this packet from XDP.
static __always_inline int egress_ok(struct xdp_md *ctx, const struct srv6_sid *sid, __u32 ifindex) {
  // Out of the interface it came in on: the kernel would also send an ICMP redirect.
  if (ifindex == ctx->ingress_ifindex) return 0;
  // End.DX* with a configured interface: the fib disagrees with the configuration.
  if (sid->oif && ifindex != sid->oif) return 0;
  // Only devices user space vouched for: they take XDP frames (tap, veth with NAPI on the peer).
  return egress_listed(ifindex);
}

// The kernel's ip_decrease_ttl(): the checksum updated incrementally (RFC 1624), bit for bit.
static __always_inline void ip_decrease_ttl(struct iphdr *iph) {
  __u32 check = (__u32)iph->check;
  check += (__u32)bpf_htons(0x0100);
  iph->check = (__sum16)(check + (check >= 0xffff));
  iph->ttl--;
}

static __always_inline void count_redirect(struct srv6_sid_stats *st, __u32 l3_bytes) {
  if (st) {
    st->packets += 1;
    st->bytes += l3_bytes;
  }
  count_reason(SRV6_XDP_REDIRECT);
}

// Strips `strip` bytes after the Ethernet header (outer IPv6 + SRH), writes the new Ethernet
// header. Returns the inner L3 header (`l3_size` bytes checked), or NULL if adjust_head failed
// (the packet is then unchanged).
static __always_inline void *strip_outer(struct xdp_md *ctx, __u32 strip, const struct bpf_fib_lookup *fib,
                                         __be16 proto, __u32 l3_size, int *aborted) {
  if (bpf_xdp_adjust_head(ctx, (int)strip)) return NULL;
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  // Verifier: bpf_xdp_adjust_head invalidated every packet pointer; check again. Cannot fail:
  // the inner header was bounds-checked before the move. If it did, the packet is already
  // stripped and passing it would be wrong, so abort (visible in xdp:xdp_exception).
  if (data + sizeof(*eth) + l3_size > data_end) {
    *aborted = 1;
    return NULL;
  }
  __builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
  eth->h_proto = proto;
  return data + sizeof(*eth);
}

// ---- behaviours ----

// How far to go: the agent's program runs everything; the benchmark build also compiles copies
// that stop before or after the fib lookup, to time the stages (a constant argument: every copy is
// specialised, the production program has no trace of the stops).
enum srv6_stage {
  SRV6_RUN_ALL = 0,
  SRV6_STOP_BEFORE_FIB = 1,  // every check done, nothing looked up: XDP_DROP
  SRV6_STOP_AFTER_FIB = 2,   // the fib lookup succeeded, nothing written: XDP_DROP
};

// Inner IPv4 (End.DT4, End.DT46, End.DX4). `c` is at the inner header.
static __always_inline int decap4(struct xdp_md *ctx, struct cursor *c, const struct srv6_sid *sid,
                                  struct srv6_sid_stats *st, __u32 strip, __u32 l3_bytes, enum srv6_stage stage) {
  struct iphdr *iph = take(c, sizeof(*iph));
  if (!iph) return pass(st, SRV6_XDP_PASS_TRUNCATED);
  // Options (router alert, source routes) take ip_forward's special paths.
  if (iph->version != 4 || iph->ihl != 5) return pass(st, SRV6_XDP_PASS_BAD_INNER);
  // Exactly the rest of the packet: no padding the kernel would forward and we would not.
  if (bpf_ntohs(iph->tot_len) != (__u32)((void *)c->end - (void *)iph)) return pass(st, SRV6_XDP_PASS_BAD_INNER);
  if (addr4_special(iph->saddr) || addr4_special(iph->daddr)) return pass(st, SRV6_XDP_PASS_BAD_INNER);
  if (iph->ttl <= 1) return pass(st, SRV6_XDP_PASS_TTL);

  if (stage == SRV6_STOP_BEFORE_FIB) return XDP_DROP;
  struct bpf_fib_lookup fib = {};
  __u32 flags = 0;
  fib.family = AF_INET;
  fib.tos = iph->tos;
  fib.l4_protocol = iph->protocol;
  fib.tot_len = bpf_ntohs(iph->tot_len);
  fib.ifindex = ctx->ingress_ifindex;
  fib.ipv4_src = iph->saddr;
  if (sid->action == SRV6_XDP_ACT_DX4) {
    // seg6local End.DX4: ip_route_input(nh4 ?: inner daddr) from the ingress device.
    fib.ipv4_dst = sid->nh4 ? sid->nh4 : iph->daddr;
    if (sid->flags & SRV6_XDP_F_DX_MAIN) {
      fib.tbid = RT_TABLE_MAIN;
      flags = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
    }
  } else {
    fib.ipv4_dst = iph->daddr;
    fib.tbid = sid->table;
    flags = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
  }
  __u32 why = fib_reason(bpf_fib_lookup(ctx, &fib, sizeof(fib), flags));
  if (why != SRV6_XDP_REDIRECT) return pass(st, why);
  if (stage == SRV6_STOP_AFTER_FIB) return XDP_DROP;
  // End.DX4 through a connected route: the kernel resolves the neighbour of the inner
  // destination (rt_nexthop() uses the packet's daddr), the fib helper that of nh4. Equal only
  // when the two addresses are; otherwise (or a gateway equal to nh4) leave it to the kernel.
  if (sid->action == SRV6_XDP_ACT_DX4 && sid->nh4 && fib.ipv4_dst == sid->nh4 && iph->daddr != sid->nh4)
    return pass(st, SRV6_XDP_PASS_EGRESS);
  if (!egress_ok(ctx, sid, fib.ifindex)) return pass(st, SRV6_XDP_PASS_EGRESS);
  if (cfg_shadow || (sid->flags & SRV6_XDP_F_SHADOW)) return pass(st, SRV6_XDP_PASS_SHADOW);

  // The point of no return: everything below changes the packet.
  int aborted = 0;
  iph = strip_outer(ctx, strip, &fib, bpf_htons(ETH_P_IP), sizeof(*iph), &aborted);
  if (aborted) return XDP_ABORTED;
  if (!iph) return pass(st, SRV6_XDP_PASS_ERROR);
  ip_decrease_ttl(iph);
  count_redirect(st, l3_bytes);
  return bpf_redirect(fib.ifindex, 0);
}

// Inner IPv6 (End.DT6, End.DT46, End.DX6). `c` is at the inner header.
static __always_inline int decap6(struct xdp_md *ctx, struct cursor *c, const struct srv6_sid *sid,
                                  struct srv6_sid_stats *st, __u32 strip, __u32 l3_bytes, enum srv6_stage stage) {
  struct ipv6hdr *ip6 = take(c, sizeof(*ip6));
  if (!ip6) return pass(st, SRV6_XDP_PASS_TRUNCATED);
  if (ip6->version != 6) return pass(st, SRV6_XDP_PASS_BAD_INNER);
  if (bpf_ntohs(ip6->payload_len) + sizeof(*ip6) != (__u32)((void *)c->end - (void *)ip6))
    return pass(st, SRV6_XDP_PASS_BAD_INNER);
  // Hop-by-hop options (router alert) take ip6_forward's special path.
  if (ip6->nexthdr == NEXTHDR_HOP) return pass(st, SRV6_XDP_PASS_BAD_INNER);
  if (addr6_special(ip6->saddr.in6_u.u6_addr32) || addr6_special(ip6->daddr.in6_u.u6_addr32))
    return pass(st, SRV6_XDP_PASS_BAD_INNER);
  if (ip6->hop_limit <= 1) return pass(st, SRV6_XDP_PASS_TTL);

  if (stage == SRV6_STOP_BEFORE_FIB) return XDP_DROP;
  struct bpf_fib_lookup fib = {};
  __u32 flags = 0;
  fib.family = AF_INET6;
  fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);  // traffic class + flow label
  fib.l4_protocol = ip6->nexthdr;
  fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
  fib.ifindex = ctx->ingress_ifindex;
  __builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
  const __u32 *nh6 = (const __u32 *)sid->nh6;
  if (sid->action == SRV6_XDP_ACT_DX6) {
    // seg6local End.DX6: a lookup for nh6 (:: = the inner destination) with FLOWI_FLAG_KNOWN_NH;
    // its neighbour is nh6 on a connected route, the gateway otherwise: what the helper does.
    if (nh6[0] | nh6[1] | nh6[2] | nh6[3])
      __builtin_memcpy(fib.ipv6_dst, sid->nh6, 16);
    else
      __builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
    if (sid->flags & SRV6_XDP_F_DX_MAIN) {
      fib.tbid = RT_TABLE_MAIN;
      flags = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
    }
  } else {
    __builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
    fib.tbid = sid->table;
    flags = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
  }
  __u32 why = fib_reason(bpf_fib_lookup(ctx, &fib, sizeof(fib), flags));
  if (why != SRV6_XDP_REDIRECT) return pass(st, why);
  if (stage == SRV6_STOP_AFTER_FIB) return XDP_DROP;
  if (!egress_ok(ctx, sid, fib.ifindex)) return pass(st, SRV6_XDP_PASS_EGRESS);
  if (cfg_shadow || (sid->flags & SRV6_XDP_F_SHADOW)) return pass(st, SRV6_XDP_PASS_SHADOW);

  int aborted = 0;
  ip6 = strip_outer(ctx, strip, &fib, bpf_htons(ETH_P_IPV6), sizeof(*ip6), &aborted);
  if (aborted) return XDP_ABORTED;
  if (!ip6) return pass(st, SRV6_XDP_PASS_ERROR);
  ip6->hop_limit--;  // no header checksum in IPv6
  count_redirect(st, l3_bytes);
  return bpf_redirect(fib.ifindex, 0);
}

static __always_inline int srv6_decap(struct xdp_md *ctx, enum srv6_stage stage) {
  struct cursor c = {(void *)(long)ctx->data, (void *)(long)ctx->data_end};

  struct ethhdr *eth = take(&c, sizeof(*eth));
  if (!eth) return pass(NULL, SRV6_XDP_PASS_TRUNCATED);
  if (eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD))
    return pass(NULL, SRV6_XDP_PASS_VLAN);
  if (eth->h_proto != bpf_htons(ETH_P_IPV6)) return pass(NULL, SRV6_XDP_PASS_NOT_IPV6);

  struct ipv6hdr *ip6 = take(&c, sizeof(*ip6));
  if (!ip6) return pass(NULL, SRV6_XDP_PASS_TRUNCATED);
  // The key is read from the packet directly (helpers accept packet pointers, bounds checked).
  struct srv6_sid *sid = bpf_map_lookup_elem(&srv6_sids, &ip6->daddr);
  if (!sid) return pass(NULL, SRV6_XDP_PASS_NO_SID);
  struct srv6_sid_stats *st = bpf_map_lookup_elem(&srv6_sid_stats, &sid->stats_idx);

  // What ipv6_rcv and ip6_forward would treat specially: not for us at L2 (multicast or
  // broadcast destination MAC: pkt_type != PACKET_HOST), not IPv6, jumbograms, trailing bytes
  // the kernel would trim (and multi-buffer frames: data_end covers the first buffer only),
  // martian sources.
  __u32 l3_bytes = (__u32)((void *)c.end - (void *)ip6);
  if ((eth->h_dest[0] & 1) || ip6->version != 6 || bpf_ntohs(ip6->payload_len) + sizeof(*ip6) != l3_bytes ||
      outer_src_martian(ip6->saddr.in6_u.u6_addr32))
    return pass(st, SRV6_XDP_PASS_BAD_OUTER);

  __u8 nexthdr = ip6->nexthdr;
  if (nexthdr == NEXTHDR_ROUTING) {
    struct ipv6_sr_hdr *srh = take(&c, sizeof(*srh));
    if (!srh) return pass(st, SRV6_XDP_PASS_TRUNCATED);
    if (srh->type != IPV6_SRCRT_TYPE_4) return pass(st, SRV6_XDP_PASS_SRH);
    if (srh->segments_left != 0) return pass(st, SRV6_XDP_PASS_SEGMENTS_LEFT);
    // Only the plain SRH H.Encaps writes: the segment list and nothing after it (no TLVs, no
    // HMAC, whose validation depends on sysctls this program cannot see).
    if (srh->hdrlen != 2 * ((__u32)srh->first_segment + 1) || (srh->flags & SR6_FLAG1_HMAC))
      return pass(st, SRV6_XDP_PASS_SRH);
    // The segment list (16 bytes each); hdrlen <= 255, so at most 2040 bytes.
    if (!take(&c, (__u32)srh->hdrlen * 8)) return pass(st, SRV6_XDP_PASS_TRUNCATED);
    nexthdr = srh->nexthdr;
  }

  __u32 strip = (__u32)(c.pos - (void *)ip6);
  __u32 act = sid->action;
  switch (nexthdr) {
  case IPPROTO_IPIP:
    if (act != SRV6_XDP_ACT_DT4 && act != SRV6_XDP_ACT_DT46 && act != SRV6_XDP_ACT_DX4)
      return pass(st, SRV6_XDP_PASS_INNER_PROTO);
    return decap4(ctx, &c, sid, st, strip, l3_bytes, stage);
  case IPPROTO_IPV6:
    if (act != SRV6_XDP_ACT_DT6 && act != SRV6_XDP_ACT_DT46 && act != SRV6_XDP_ACT_DX6)
      return pass(st, SRV6_XDP_PASS_INNER_PROTO);
    return decap6(ctx, &c, sid, st, strip, l3_bytes, stage);
  case NEXTHDR_FRAGMENT:
    return pass(st, SRV6_XDP_PASS_FRAGMENT);
  case NEXTHDR_HOP:
  case NEXTHDR_ROUTING:
  case NEXTHDR_ESP:
  case NEXTHDR_AUTH:
  case NEXTHDR_DEST:
  case NEXTHDR_MOBILITY:
  case NEXTHDR_HIP:
  case NEXTHDR_SHIM6:
    return pass(st, SRV6_XDP_PASS_EXT_HEADER);
  default:
    return pass(st, SRV6_XDP_PASS_INNER_PROTO);
  }
}

// Multi-buffer frames are accepted at attach time ("xdp.frags": the underlay may use jumbo
// MTUs) and passed to the kernel by the length check above.
SEC("xdp.frags")
int srv6_xdp_decap(struct xdp_md *ctx) {
  return srv6_decap(ctx, SRV6_RUN_ALL);
}

char LICENSE[] SEC("license") = "GPL";

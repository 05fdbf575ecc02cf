/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
// Layouts shared by the XDP SRv6 decapsulation offload (srv6_decap.bpf.c) and user space
// (src/xdp/layout.ts mirrors every struct and enum here, field by field; layout-btf.spec.ts checks
// offsets, sizes and enum values against the compiled object's BTF, so a drift fails loudly).
//
// All multi-byte fields are host byte order unless named *_be / typed __be*; addresses are in
// network order, exactly as they sit in the packet.
#ifndef SRV6_XDP_H
#define SRV6_XDP_H

#include <linux/types.h>

// Decapsulation behaviours (RFC 8986 names). Values are ours, not the kernel's SEG6_LOCAL_ACTION_*.
enum srv6_xdp_action {
  SRV6_XDP_ACT_NONE = 0,
  SRV6_XDP_ACT_DT4 = 1,   // End.DT4: inner IPv4, lookup in `table`
  SRV6_XDP_ACT_DT6 = 2,   // End.DT6: inner IPv6, lookup in `table`
  SRV6_XDP_ACT_DT46 = 3,  // End.DT46: inner IPv4 or IPv6, lookup in `table`
  SRV6_XDP_ACT_DX4 = 4,   // End.DX4: inner IPv4 to next hop `nh4` (0: the inner destination)
  SRV6_XDP_ACT_DX6 = 5,   // End.DX6: inner IPv6 to next hop `nh6` (::: the inner destination)
};

// srv6_sid.flags
#define SRV6_XDP_F_SHADOW (1U << 0)   // do everything up to the verdict, then XDP_PASS (canary)
#define SRV6_XDP_F_DX_MAIN (1U << 1)  // End.DX*: look the next hop up in table main directly,
                                      // skipping the policy rules and the local table. The
                                      // kernel goes through both: equal only when no rule above
                                      // main matches packets from the underlay (the agent's own
                                      // rules never do) and no local route covers the next hop.

// Why a packet was left to the kernel (index into the counters). REDIRECT is "handled by XDP".
enum srv6_xdp_reason {
  SRV6_XDP_REDIRECT = 0,       // decapsulated and redirected by XDP
  SRV6_XDP_PASS_NOT_IPV6,      // outer EtherType is not IPv6 (ARP, IPv4, ...)
  SRV6_XDP_PASS_VLAN,          // 802.1Q/802.1ad tag: the kernel's VLAN devices own it
  SRV6_XDP_PASS_TRUNCATED,     // shorter than the headers it announces
  SRV6_XDP_PASS_NO_SID,        // outer destination is not an offloaded SID
  SRV6_XDP_PASS_BAD_OUTER,     // outer packet the kernel might treat specially (length, martian
                               // source, non-unicast MAC, version)
  SRV6_XDP_PASS_SEGMENTS_LEFT, // SRH with segments left != 0
  SRV6_XDP_PASS_SRH,           // SRH we do not accept as plain (not type 4, TLVs, HMAC flag)
  SRV6_XDP_PASS_FRAGMENT,      // outer IPv6 fragment header
  SRV6_XDP_PASS_EXT_HEADER,    // any other extension header before the inner packet
  SRV6_XDP_PASS_INNER_PROTO,   // inner family not served by this SID's behaviour
  SRV6_XDP_PASS_BAD_INNER,     // inner header the kernel treats specially (options, martian
                               // addresses, length mismatch, hop-by-hop)
  SRV6_XDP_PASS_TTL,           // inner TTL/hop limit <= 1: the kernel sends the ICMP error
  SRV6_XDP_PASS_NO_NEIGH,      // fib: neighbour not resolved (the kernel resolves it)
  SRV6_XDP_PASS_FRAG_NEEDED,   // fib: packet larger than the egress MTU
  SRV6_XDP_PASS_NO_ROUTE,      // fib: blackhole, unreachable, prohibit, local, no table
  SRV6_XDP_PASS_FIB_LWT,       // fib: route needs an encapsulation (lwtunnel)
  SRV6_XDP_PASS_FWD_DISABLED,  // fib: forwarding disabled on the ingress device
  SRV6_XDP_PASS_EGRESS,        // egress is not an offload target (not allowed, the ingress
                               // device itself, not the DX oif, DX4 neighbour ambiguity)
  SRV6_XDP_PASS_SHADOW,        // shadow mode: would have redirected
  SRV6_XDP_PASS_ERROR,         // unexpected (helper failure, unknown action)
  SRV6_XDP_REASON_MAX,
};

// Key of srv6_sids: the SID (outer IPv6 destination), network order.
struct srv6_sid_key {
  __u8 addr[16];
};

// Value of srv6_sids: what to do with packets for the SID. 40 bytes.
struct srv6_sid {
  __u32 action;     // enum srv6_xdp_action
  __u32 table;      // End.DT*: routing table of the tenant (BPF_FIB_LOOKUP_TBID)
  __u32 oif;        // End.DX*: the interface towards the VM; 0 = whatever the fib says
  __u32 flags;      // SRV6_XDP_F_*
  __u32 stats_idx;  // slot in srv6_sid_stats (allocated by user space)
  __be32 nh4;       // End.DX4 next hop, network order; 0 = the inner destination
  __u8 nh6[16];     // End.DX6 next hop, network order; :: = the inner destination
};

// Value of srv6_sid_stats, per CPU (user space sums). `packets`/`bytes` count packets handled by
// XDP; bytes are outer IPv6 packet bytes (L3), as the kernel's seg6local `count` counts them.
struct srv6_sid_stats {
  __u64 packets;
  __u64 bytes;
  __u64 pass[SRV6_XDP_REASON_MAX];  // packets for this SID left to the kernel, by reason
};

// A slot of srv6_egress: the devices XDP may redirect to (tenant interfaces), as an open-addressing
// hash table in an ARRAY map (array lookups are inlined: a BPF hash map costs ~10 ns more per
// packet). An ifindex lives in the first free slot of its probe chain, which starts at
// srv6_egress_slot(ifindex) and is at most SRV6_EGRESS_PROBES long. User space never moves an
// entry: it writes new ones into an empty or deleted slot of their chain and marks deleted ones
// SRV6_EGRESS_DELETED, so a lookup racing with an update finds an entry or not, never another.
struct srv6_egress {
  __u32 ifindex;  // 0: empty (ends a chain); SRV6_EGRESS_DELETED: deleted (chains go on)
  __u32 flags;    // reserved, 0
};
#define SRV6_EGRESS_BITS 12
#define SRV6_EGRESS_SLOTS (1U << SRV6_EGRESS_BITS)
#define SRV6_EGRESS_PROBES 8
#define SRV6_EGRESS_DELETED 0xffffffffU

// Fibonacci hashing: consecutive ifindexes land far apart.
static inline __u32 srv6_egress_slot(__u32 ifindex) {
  return (ifindex * 2654435761U) >> (32 - SRV6_EGRESS_BITS);
}

// Value of srv6_meta (one slot): what user space loaded last, to decide on a link update.
struct srv6_meta {
  __u8 identity[32];  // sha256 of the object file and its load-time configuration
  __u64 loaded_ns;    // CLOCK_REALTIME of that load, ns
};

#define SRV6_XDP_MAX_SIDS 4096
#define SRV6_XDP_MAX_EGRESS 1024  // entries; the table has 4x as many slots

#endif

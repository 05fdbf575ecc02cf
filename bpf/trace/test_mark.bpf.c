// SPDX-License-Identifier: GPL-2.0
// Test and demo helper for the tracer: a tc (cls_bpf, direct action) program that sets
// skb->mark = IPFT_TEST_MARK on every IPv4/IPv6 packet, for kernels without act_skbedit and
// hosts without iptables/nft. The mark is a constant because `tc ... bpf obj` cannot set globals:
//   tc qdisc add dev IF clsact
//   tc filter add dev IF ingress bpf da obj bpf/build/trace/test_mark.bpf.o sec tc
// (The veth crossing into another namespace clears the mark: mark again in each namespace.)
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IPFT_TEST_MARK 0xdeadbeef

char LICENSE[] SEC("license") = "GPL";

// Not named ipft*: tests count the tracer's own programs by that prefix (bpftool prog show).
SEC("tc")
int mark_deadbeef(struct __sk_buff *skb) {
  if (skb->protocol == bpf_htons(ETH_P_IP) || skb->protocol == bpf_htons(ETH_P_IPV6)) skb->mark = IPFT_TEST_MARK;
  return TC_ACT_OK;
}

// Layouts shared by the tracer's BPF programs (ipft.bpf.c) and user space (src/trace/event.ts,
// which mirrors them; src/trace/event.spec.ts checks the offsets against this file's comments).
#ifndef IPFT_H
#define IPFT_H

// Included by ipft.bpf.c and probe.bpf.c after the kernel types (vmlinux.h or linux/bpf.h).

// One event per (skb, traced function or tracepoint) hit that passed the filters: fixed size,
// 72 bytes. Multi-byte fields are host endian except protocol and inner_protocol, which are
// copied from the skb as they are there (network byte order).
struct ipft_event {
  __u64 skb;             //  0 the skb's address: packet id (reused by the allocator!)
  __u64 tstamp;          //  8 bpf_ktime_get_ns(), CLOCK_MONOTONIC
  __s64 retval;          // 16 fexit: the return value; net_dev_xmit: the driver's rc
  __u32 func_id;         // 24 index of the target in user space's list
  __u32 cpu;             // 28
  __u32 len;             // 32 skb->len
  __u32 data_len;        // 36 skb->data_len (bytes in frags)
  __u32 mark;            // 40 skb->mark
  __u32 ifindex;         // 44 skb->dev->ifindex, 0 without a device
  __u32 netns;           // 48 inode of the device's (else the socket's) network namespace
  __u32 gso_type;        // 52 skb_shinfo(skb)->gso_type
  __u16 gso_size;        // 56
  __u16 gso_segs;        // 58
  __u16 protocol;        // 60 skb->protocol (big endian)
  __u16 inner_protocol;  // 62 skb->inner_protocol (big endian)
  __u8 is_return;        // 64 1 for fexit events
  __u8 flags;            // 65 IPFT_F_*
  __u8 pad[6];           // 66
};

#define IPFT_EVENT_SIZE 72

// flags
#define IPFT_F_ENCAPSULATION 0x01  // skb->encapsulation
#define IPFT_F_PARTIAL 0x02        // only skb pointer, len (and ifindex) valid: skb may be freed

// Slots of the per-CPU `counters` array.
#define IPFT_CNT_HIT 0   // events that passed the filters
#define IPFT_CNT_LOST 1  // of those, events the ring buffer had no room for
#define IPFT_CNT_MAX 2

// fentry/fexit/tp_btf programs are cloned once per target (the target is fixed at load time);
// user space writes the target's index over this ld_imm64 constant in each clone.
#define IPFT_FUNC_ID_MARKER 0x1f7ace1d5eedf00dULL
#define IPFT_FUNC_ID_MARKER_ASM "0x1f7ace1d5eedf00d"

#endif

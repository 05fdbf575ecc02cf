// Per-packet grouping: timestamp order within a packet, and a new packet id when an skb address
// is reused (after a free, back in a namespace it had left, after a long gap).
import { TraceEvent } from './event';
import { ev } from '../testing/trace-events';
import { groupPackets, PacketSplitter } from './packets';

// funcId → name
const NAMES = ['ip_output', 'dev_queue_xmit', 'kfree_skb_reason', 'skb_release_data', 'kfree_skbmem', 'ip_rcv', 'consume_skb', 'sock_wfree', 'skb_put'];
const F = Object.fromEntries(NAMES.map((n, i) => [n, i])) as Record<string, number>;
const A = 0xffff888000000100n;
const B = 0xffff888000000200n;

const at = (t: number, name: string, over: Partial<TraceEvent> = {}) => ev({ skb: A, tstamp: BigInt(t), funcId: F[name], netns: 0, ...over });

describe('groupPackets', () => {
  it('groups by skb address and sorts each packet by timestamp (per-CPU order is not time order)', () => {
    const events = [at(30, 'ip_rcv', { cpu: 1 }), at(10, 'ip_output'), at(20, 'dev_queue_xmit'), at(15, 'ip_output', { skb: B })];
    const p = groupPackets(events, { names: NAMES });
    expect(p.map((x) => [x.id, x.skb, x.events.map((e) => Number(e.tstamp))])).toEqual([
      [1, A, [10, 20, 30]],
      [2, B, [15]],
    ]);
  });

  it('splits after a free, keeping the freeing functions on that CPU in the old packet', () => {
    const events = [
      at(10, 'ip_output'),
      at(20, 'kfree_skb_reason', { cpu: 2 }),
      at(21, 'skb_release_data', { cpu: 2 }),
      at(22, 'sock_wfree', { cpu: 2 }),
      at(23, 'kfree_skbmem', { cpu: 2 }),
      at(40, 'skb_put', { cpu: 2 }), // the allocator handed the address out again
      at(41, 'ip_output', { cpu: 2 }),
    ];
    const p = groupPackets(events, { names: NAMES });
    expect(p.map((x) => x.events.map((e) => NAMES[e.funcId]))).toEqual([
      ['ip_output', 'kfree_skb_reason', 'skb_release_data', 'sock_wfree', 'kfree_skbmem'],
      ['skb_put', 'ip_output'],
    ]);
  });

  it('splits when a free-path function runs on another CPU after the free (a new life)', () => {
    const events = [at(10, 'consume_skb', { cpu: 0 }), at(20, 'skb_release_data', { cpu: 1 })];
    expect(groupPackets(events, { names: NAMES })).toHaveLength(2);
  });

  it('splits when a free-path function runs in another namespace after the free', () => {
    const events = [at(10, 'kfree_skb_reason', { netns: 5 }), at(20, 'kfree_skb_reason', { netns: 6 })];
    expect(groupPackets(events, { names: NAMES })).toHaveLength(2);
    expect(groupPackets([at(10, 'kfree_skb_reason', { netns: 5 }), at(20, 'kfree_skbmem', { netns: 0 })], { names: NAMES })).toHaveLength(1);
  });

  it('does not split at the return of a free function', () => {
    const events = [at(10, 'ip_output'), at(20, 'dev_queue_xmit', { isReturn: true }), at(30, 'ip_rcv')];
    expect(groupPackets(events, { names: NAMES })).toHaveLength(1);
  });

  it('splits when the address comes back to a namespace the packet had left', () => {
    const vm1 = 111;
    const hv1 = 222;
    const vm2 = 333;
    const events = [
      at(10, 'dev_queue_xmit', { netns: vm1 }),
      at(20, 'ip_rcv', { netns: hv1 }),
      at(25, 'ip_output', { netns: 0 }), // no device, no socket: says nothing
      at(30, 'ip_rcv', { netns: vm2 }),
      at(40, 'dev_queue_xmit', { netns: vm1 }), // same address, next packet from vm1
      at(50, 'ip_rcv', { netns: hv1 }),
    ];
    const p = groupPackets(events, { names: NAMES });
    expect(p.map((x) => x.events.map((e) => e.netns))).toEqual([
      [vm1, hv1, 0, vm2],
      [vm1, hv1],
    ]);
  });

  it('splits after a gap, unless the gap rule is off', () => {
    const events = [at(0, 'ip_output'), at(1_000_000_000, 'ip_output')];
    expect(groupPackets(events, { names: NAMES, gapNs: 500_000_000n })).toHaveLength(2);
    expect(groupPackets(events, { names: NAMES, gapNs: 0n })).toHaveLength(1);
  });

  it('numbers packets by their first event', () => {
    const events = [at(50, 'ip_output', { skb: B }), at(10, 'ip_output'), at(20, 'kfree_skbmem'), at(60, 'ip_output')];
    const p = groupPackets(events, { names: NAMES });
    expect(p.map((x) => [x.id, x.skb, Number(x.events[0].tstamp)])).toEqual([
      [1, A, 10],
      [2, B, 50],
      [3, A, 60],
    ]);
  });
});

describe('PacketSplitter (streaming)', () => {
  it('assigns packet numbers in arrival order and forgets idle addresses', () => {
    const s = new PacketSplitter({ names: NAMES, gapNs: 100n });
    expect(s.packetOf(at(10, 'ip_output'))).toBe(1);
    expect(s.packetOf(at(11, 'ip_output', { skb: B }))).toBe(2);
    expect(s.packetOf(at(12, 'consume_skb'))).toBe(1);
    expect(s.packetOf(at(13, 'ip_rcv'))).toBe(3);
    expect(s.tracked).toBe(2);
    s.prune(1000n);
    expect(s.tracked).toBe(0);
  });
});

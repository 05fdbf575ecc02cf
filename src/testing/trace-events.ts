// Tracer event fixtures for unit tests.
import type { TraceEvent } from '../trace/event';

/** A plausible event (TCP GSO packet, tcpv4) with fields overridden. */
export function ev(over: Partial<TraceEvent> = {}): TraceEvent {
  return {
    skb: 0xffff888012345600n,
    tstamp: 3347634373462n,
    retval: 0n,
    funcId: 0,
    cpu: 0,
    len: 5764,
    dataLen: 5700,
    mark: 0xdeadbeef,
    ifindex: 3,
    netns: 4026531840,
    gsoType: 0x1,
    gsoSize: 1388,
    gsoSegs: 5,
    protocol: 0x0800,
    innerProtocol: 0,
    isReturn: false,
    encapsulation: false,
    partial: false,
    ...over,
  };
}

// Output forms: the aggregate text (per packet, events by timestamp, as ipftrace2 prints them)
// and JSON lines (ipftrace2's field names plus the GSO extension, one event per line).
import { formatExtension, gsoFlags, hex, hexPtr, TraceEvent } from './event';
import type { Packet } from './packets';

export interface Labels {
  /** Display name per funcId (function, or `system:tracepoint`). */
  labels: readonly string[];
  /** Kernel module per funcId, if any. */
  modules?: readonly (string | undefined)[];
  gsoNames: ReadonlyMap<number, string>;
}

/** `3347634373462 0000 ip_output (len: 5764 gso_type: tcpv4 …)`; returns are marked. */
export function formatEventLine(e: TraceEvent, l: Labels): string {
  const name = l.labels[e.funcId] ?? `#${e.funcId}`;
  const fn = e.isReturn ? `${name} (return)` : name;
  return `${e.tstamp} ${String(e.cpu).padStart(4, '0')} ${fn} (${formatExtension(e, l.gsoNames)})`;
}

/** One packet block: a header line, then its events in timestamp order. */
export function formatPacket(p: Packet, l: Labels): string {
  const first = p.events[0].tstamp;
  const last = p.events[p.events.length - 1].tstamp;
  const us = Number(last - first) / 1000;
  const lines = [`=== packet ${p.id}: skb ${hexPtr(p.skb)}, ${p.events.length} events, ${us.toFixed(1)} us`];
  for (const e of p.events) lines.push(formatEventLine(e, l));
  return lines.join('\n');
}

export function formatAggregate(packets: readonly Packet[], l: Labels): string {
  return packets.map((p) => formatPacket(p, l)).join('\n\n');
}

/** One event as a plain object: ipftrace2's fields (packet_id, timestamp, processor_id, module,
 *  function, is_return) plus `packet` (the number after pointer-reuse splitting) and the GSO
 *  extension. The timestamp is a decimal string (64 bits do not fit a JS number). */
export function eventRecord(e: TraceEvent, packet: number, l: Labels): Record<string, unknown> {
  const obj: Record<string, unknown> = {
    packet_id: hexPtr(e.skb),
    packet,
    timestamp: e.tstamp.toString(),
    processor_id: e.cpu,
    module: l.modules?.[e.funcId] ?? 'vmlinux',
    function: l.labels[e.funcId] ?? `#${e.funcId}`,
    is_return: e.isReturn,
    len: e.len,
  };
  if (e.partial) {
    Object.assign(obj, { partial: true, ifindex: e.ifindex, netns: e.netns, rc: Number(e.retval) });
  } else {
    Object.assign(obj, {
      data_len: e.dataLen,
      gso_size: e.gsoSize,
      gso_segs: e.gsoSegs,
      gso_type: gsoFlags(e.gsoType, l.gsoNames),
      gso_type_raw: e.gsoType,
      protocol: hex(e.protocol),
      inner_protocol: hex(e.innerProtocol),
      encapsulation: e.encapsulation,
      mark: hex(e.mark, 8),
      ifindex: e.ifindex,
      netns: e.netns,
    });
    if (e.isReturn) obj.retval = Number(e.retval);
  }
  return obj;
}

/** A JSON line for the stream: eventRecord with the timestamp as an exact JSON number, as
 *  ipftrace2 writes it (readers that need every digit parse it as a string or BigInt). */
export function jsonEvent(e: TraceEvent, packet: number, l: Labels): string {
  const ts = e.tstamp.toString();
  return JSON.stringify(eventRecord(e, packet, l)).replace(`"timestamp":"${ts}"`, `"timestamp":${ts}`);
}

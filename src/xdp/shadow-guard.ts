// Pass-on-doubt for what the program cannot see: SIDs the offload could not handle exactly as the
// kernel does on these underlays are put in shadow mode (counted, passed), with the reason.
import { Sysctl } from '../netlink/sysctl';
import type { XdpSidEntry } from './sid-map';

export interface ShadowedSid {
  sid: string;
  reason: string;
}

/**
 * End.DX4's kernel path routes the inner packet with ip_route_input() from the underlay, which
 * applies the underlay's IPv4 reverse-path filter (fib_validate_source) to the inner source;
 * bpf_fib_lookup never does. With rp_filter on for an underlay the kernel may drop what XDP would
 * forward: such SIDs run in shadow mode.
 */
export function shadowInexact(netns: string | undefined, underlay: string[], entries: XdpSidEntry[]): { entries: XdpSidEntry[]; shadowed: ShadowedSid[] } {
  if (!entries.some((e) => e.action === 'End.DX4' && !e.shadow)) return { entries, shadowed: [] };
  const sysctl = new Sysctl(netns);
  const rpf = (dev: string) => Number(sysctl.get(['net', 'ipv4', 'conf', dev, 'rp_filter']));
  let all: number;
  try {
    all = rpf('all');
  } catch {
    return { entries, shadowed: [] }; // no IPv4 in this namespace: nothing to check
  }
  const on = underlay.filter((u) => {
    try {
      return Math.max(all, rpf(u)) !== 0;
    } catch {
      return all !== 0; // the device is checked (and refused) by attach()
    }
  });
  if (!on.length) return { entries, shadowed: [] };
  const reason = `IPv4 rp_filter is on for underlay ${on.join(', ')}: the kernel's End.DX4 checks inner sources against it, XDP cannot`;
  const shadowed: ShadowedSid[] = [];
  const out = entries.map((e) => {
    if (e.action !== 'End.DX4' || e.shadow) return e;
    shadowed.push({ sid: e.sid, reason });
    return { ...e, shadow: true };
  });
  return { entries: out, shadowed };
}

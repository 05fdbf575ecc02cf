// Throwaway network namespaces for kernel-tier tests and benchmarks.
// Names carry a per-process tag so a crashed run can be swept (scripts/test.sh) without touching
// anything else; cleanup is registered before creation and is idempotent.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { onProcessExit } from './process-exit';

export const NETNS_PREFIX = 'srv6t-';
const live = new Set<string>();

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}

export class TestNetns {
  readonly path: string;
  private constructor(readonly name: string) {
    this.path = `/var/run/netns/${name}`;
  }

  /** Creates `srv6t-<tag>-<pid>-<random>` with loopback up. Register `destroyAllNetns` in afterAll. */
  static create(tag: string): TestNetns {
    const name = `${NETNS_PREFIX}${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
    live.add(name); // registered before it exists: a failure below still gets cleaned up
    run('ip', ['netns', 'add', name]);
    const ns = new TestNetns(name);
    ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** veth pairs inside the namespace, both ends up: [['ul0', 'ul1'], ...]. */
  vethPairs(pairs: [string, string][]): this {
    for (const [a, b] of pairs) {
      this.ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      this.ip(['link', 'set', a, 'up']);
      this.ip(['link', 'set', b, 'up']);
    }
    return this;
  }

  /** Runs `ip <args>` inside the namespace and returns stdout. */
  ip(args: string[]): string {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** Runs `ip -j <args>` inside the namespace and parses the JSON (iproute2 is our independent observer). */
  ipJson<T = any>(args: string[]): T {
    const out = run('ip', ['-j', '-n', this.name, ...args]).trim();
    return (out ? JSON.parse(out) : []) as T;
  }

  /** `ip -batch -` inside the namespace. */
  ipBatch(lines: string[]): void {
    run('ip', ['-n', this.name, '-batch', '-'], lines.join('\n') + '\n');
  }

  /** Any command inside the namespace. */
  exec(cmd: string, args: string[]): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** Sets sysctls inside the namespace: `sysctl('net.ipv4.conf.all.forwarding=1', …)`. */
  sysctl(...settings: string[]): void {
    this.exec('sysctl', ['-q', '-w', ...settings]);
  }

  /** The interface index of `dev`, as iproute2 shows it. */
  ifindex(dev: string): number {
    return this.ipJson<Array<{ ifindex: number }>>(['link', 'show', 'dev', dev])[0].ifindex;
  }

  /**
   * What a job could change, as iproute2 and procfs show it (never our own decoder): links (MTU,
   * master, flags), addresses, routes of every table and rules of both families (without the
   * kernel's own IPv6 link-local addresses and routes: isAddrconfRoute), nexthops, and the
   * forwarding, rp_filter and seg6 sysctls of every interface. Comparable with toEqual.
   */
  kernelSnapshot(): Record<string, unknown> {
    type Link = { ifname: string; mtu: number; master?: string; flags: string[] };
    type Addr = { ifname: string; addr_info: { family: string; local: string; prefixlen: number }[] };
    const sysctls = this.exec('sh', [
      '-c',
      'grep -H . /proc/sys/net/ipv4/conf/*/forwarding /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv6/conf/*/forwarding /proc/sys/net/ipv6/conf/*/seg6_enabled /proc/sys/net/vrf/strict_mode 2>/dev/null || true',
    ]);
    return {
      links: this.ipJson<Link[]>(['link', 'show']).map((l) => ({ ifname: l.ifname, mtu: l.mtu, master: l.master, flags: l.flags })),
      // (without the kernel's IPv6 link-local addresses: they come when DAD ends)
      addresses: this.ipJson<Addr[]>(['addr', 'show']).map((a) => ({
        ifname: a.ifname,
        addrs: a.addr_info.filter((i) => !i.local.startsWith('fe80:')).map((i) => `${i.family} ${i.local}/${i.prefixlen}`),
      })),
      routes: ['-4', '-6'].flatMap((f) =>
        this.ipJson<{ dst: string; protocol?: string }[]>([f, 'route', 'show', 'table', 'all']).filter((r) => !isAddrconfRoute(r)),
      ),
      rules: ['-4', '-6'].flatMap((f) => this.ipJson([f, 'rule', 'show'])),
      nexthops: this.ipJson(['nexthop', 'show']),
      sysctls: sysctls.split('\n').filter(Boolean).sort(),
    };
  }

  destroy(): void {
    if (!live.delete(this.name)) return;
    try {
      run('ip', ['netns', 'del', this.name]);
    } catch {
      /* already gone */
    }
  }
}

/**
 * A route the kernel makes by itself for a link's IPv6 link-local address and multicast (fe80::/64,
 * the fe80::<addr> local and fe80:: anycast routes, ff00::/8), as `ip -j route` shows it. They
 * appear once DAD ends, and again whenever a link is enslaved to or released from a VRF, so a test
 * that compares route sets before and after must leave them out: on a slow machine (the lab VM)
 * they arrive in between.
 */
export function isAddrconfRoute(r: { protocol?: string | number; dst?: string }): boolean {
  return r.protocol === 'kernel' && typeof r.dst === 'string' && (/^fe80:/.test(r.dst) || r.dst === 'ff00::/8');
}

export function destroyAllNetns(): void {
  for (const name of [...live]) {
    live.delete(name);
    try {
      run('ip', ['netns', 'del', name]);
    } catch {
      /* already gone */
    }
  }
}

onProcessExit(destroyAllNetns);

/** ICMP echo requests the namespace's own stack received, per family (/proc/net/snmp, snmp6). */
export function icmpInEchos(ns: TestNetns): { 4: number; 6: number } {
  const icmp = ns
    .exec('cat', ['/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Icmp:'));
  const v4 = Number(icmp[1].split(/\s+/)[icmp[0].split(/\s+/).indexOf('InEchos')]);
  const v6 = /^Icmp6InEchos\s+(\d+)$/m.exec(ns.exec('cat', ['/proc/net/snmp6']));
  return { 4: v4, 6: v6 ? Number(v6[1]) : 0 };
}

// A tenant "VM": a network namespace attached to its hypervisor through veth pairs (one per NIC,
// `eth<i>` in the VM, `v-<vm>-<i>` on the HV: the tap the agent configures), running the probe
// (vm-probe.main.ts) the test drives through a unix socket. Addresses are host addresses
// (/32, /128) behind an on-link gateway, as a cloud's DHCP gives them: every packet goes through
// the HV, even to a VM of the same subnet on another HV.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../native/addon';
import { TestNetns } from '../netns';
import { scaled } from '../time-scale';
import { NetnsProcess } from './netns-process';
import type { BulkAnswer, ExchangeAnswer, Request, Stats } from './vm-probe.main';

export type Family = 4 | 6;

export interface VmNic {
  /** The agent's tenant id this NIC belongs to. */
  tenant: string;
  /** The VM's host address per family it carries on this NIC. */
  addresses: Partial<Record<Family, string>>;
  /** The tenant's gateway on the HV side, per family ("10.0.0.1/24"). */
  gateways: Partial<Record<Family, string>>;
}

export interface VmSpec {
  name: string;
  /** The customer tenant (what the probe reports; several agent tenants may carry it, one per family). */
  tenant: string;
  hv: number;
  nics: VmNic[];
}

/** The compiled probe: the VM runs it with node, in its namespace. */
export function probeProgram(): string {
  const root = packageRoot();
  const js = join(root, 'dist', 'src', 'testing', 'data-center', 'vm-probe.main.js');
  const ts = join(root, 'src', 'testing', 'data-center', 'vm-probe.main.ts');
  if (!existsSync(js)) throw new Error(`${js} is missing: run "npm run build" first (the e2e suite runs the built agent and probe)`);
  if (statSync(js).mtimeMs < statSync(ts).mtimeMs) throw new Error(`${js} is older than its source: run "npm run build" first`);
  return js;
}

export function run(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr }));
  });
}

export const tapName = (vm: string, nic: number) => `v-${vm}-${nic}`;

export class Vm {
  hv: number;
  private probe?: NetnsProcess;
  private ctl?: Socket;
  private pending = new Map<number, (a: any) => void>();
  private nextId = 1;

  constructor(
    readonly spec: VmSpec,
    readonly ns: TestNetns,
    private readonly dir: string,
  ) {
    this.hv = spec.hv;
  }

  get name(): string {
    return this.spec.name;
  }

  get nics(): VmNic[] {
    return this.spec.nics;
  }

  /** The VM's address of a family (the NIC that carries it). */
  address(family: Family): string | undefined {
    return this.nics.find((n) => n.addresses[family])?.addresses[family];
  }

  families(): Family[] {
    return ([4, 6] as const).filter((f) => this.address(f));
  }

  /** Plugs the VM's NICs into a hypervisor's namespace and configures the VM side. */
  plug(hv: number, hvNs: TestNetns): void {
    this.hv = hv;
    this.nics.forEach((nic, i) => {
      const tap = tapName(this.name, i);
      const eth = `eth${i}`;
      hvNs.ip(['link', 'add', tap, 'type', 'veth', 'peer', 'name', eth, 'netns', this.ns.name]);
      hvNs.ip(['link', 'set', tap, 'up']);
      const lines = [`link set ${eth} up`];
      for (const f of [4, 6] as const) {
        const a = nic.addresses[f];
        const gw = nic.gateways[f]?.split('/')[0];
        if (!a || !gw) continue;
        lines.push(`addr add ${a}/${f === 4 ? 32 : 128} dev ${eth}${f === 6 ? ' nodad' : ''}`);
        lines.push(`route add ${gw} dev ${eth}`);
        lines.push(`route add default via ${gw} dev ${eth}`);
      }
      this.ns.ipBatch(lines);
      // A tap-backed VM needs nothing; the VM end of a veth needs NAPI (GRO) to take frames the
      // HV's XDP offload redirects to it, else the kernel drops them (docs/adr/0004, point 4).
      this.ns.exec('ethtool', ['-K', eth, 'gro', 'on']);
    });
  }

  /** Pulls the NICs out of the hypervisor (the veth pairs go, with whatever the HV had on them). */
  unplug(hvNs: TestNetns): void {
    this.nics.forEach((_, i) => {
      try {
        hvNs.ip(['link', 'del', tapName(this.name, i)]);
      } catch {
        /* already gone */
      }
    });
  }

  async startProbe(): Promise<void> {
    this.ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    const socket = join(this.dir, `${this.name}.sock`);
    this.probe = NetnsProcess.start({
      netns: this.ns.name,
      cmd: process.execPath,
      args: [probeProgram(), this.name, this.spec.tenant, socket],
      logFile: join(this.dir, `${this.name}.log`),
    });
    await this.probe.waitForLine(/^vm-probe .* ready$/, scaled(15_000));
    this.ctl = connect({ path: socket });
    await new Promise<void>((resolve, reject) => this.ctl!.once('connect', resolve).once('error', reject));
    let buf = '';
    this.ctl.on('data', (b) => {
      buf += b.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        const cb = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        cb?.(msg);
      }
    });
  }

  async stopProbe(): Promise<void> {
    this.ctl?.destroy();
    await this.probe?.stop('SIGKILL');
  }

  private request<T>(req: Request): Promise<T> {
    if (!this.ctl) throw new Error(`${this.name}: probe not started`);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, (msg) => (msg.error ? reject(new Error(`${this.name}: ${msg.error}`)) : resolve(msg.answer as T)));
      this.ctl!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** A TCP or UDP exchange with the echo server at `host`: who answered, or why nobody did. */
  exchange(proto: 'tcp' | 'udp', host: string, timeoutMs = scaled(2000)): Promise<ExchangeAnswer> {
    return this.request({ op: proto, host, timeoutMs });
  }

  bulk(host: string, bytes: number, timeoutMs = scaled(60_000)): Promise<BulkAnswer> {
    return this.request({ op: 'bulk', host, bytes, timeoutMs });
  }

  stats(): Promise<Stats> {
    return this.request({ op: 'stats' });
  }

  resetStats(): Promise<unknown> {
    return this.request({ op: 'reset' });
  }

  /** One ICMP echo (iputils ping, not our code) with a deadline per attempt. */
  async ping(host: string, opts: { count?: number; waitS?: number; size?: number; dontFragment?: boolean } = {}): Promise<boolean> {
    const args = [
      'netns',
      'exec',
      this.ns.name,
      'ping',
      '-n',
      '-q',
      '-c',
      String(opts.count ?? 1),
      '-W',
      String(opts.waitS ?? Math.max(1, Math.round(scaled(1000) / 1000))),
    ];
    if (opts.size !== undefined) args.push('-s', String(opts.size));
    if (opts.dontFragment) args.push('-M', 'do');
    args.push(host);
    return (await run('ip', args)).ok;
  }

  /**
   * What a booting VM does first: resolve its gateways (ARP, ND), until they answer. The HV learns
   * the VM's MAC address from it; in table mode nothing else would teach it (XDP's IPv4 path never
   * resolves a neighbour: docs/adr/0004). The ping only makes the VM ask: whether the HV's own
   * stack answers it is no concern here (in table mode it does not: its reply is routed in main).
   */
  async announce(deadlineMs = scaled(30_000)): Promise<void> {
    const t0 = Date.now();
    for (const [i, nic] of this.nics.entries())
      for (const gw of Object.values(nic.gateways)) {
        const addr = gw!.split('/')[0];
        const resolved = () => this.ns.ipJson<{ lladdr?: string }[]>(['neigh', 'show', addr, 'dev', `eth${i}`]).some((n) => !!n.lladdr);
        while (!resolved()) {
          if (Date.now() - t0 > deadlineMs) throw new Error(`${this.name}: gateway ${addr} not resolved within ${deadlineMs} ms`);
          await this.ping(addr, { waitS: 0.2 });
        }
      }
  }

  /** The first pings may be spent on neighbour resolution: a few tries before calling it lost. */
  async reaches(host: string, tries = 3): Promise<boolean> {
    for (let i = 0; i < tries; i++) if (await this.ping(host)) return true;
    return false;
  }
}

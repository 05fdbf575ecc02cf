// A whole data center in network namespaces, driven like production:
//
//                 ┌──────────── ctl (controller) ─────────────┐
//                 │ redis-server 10.255.0.1:6379 + unix socket │◀── the test process: orchestrator
//                 │ br0 10.255.0.1/24 (management network)     │    client (unix socket), REST (curl)
//                 └──mg1─────────mg2─────── … ───mgN───────────┘
//                     │mgmt0      │mgmt0         │mgmt0   10.255.0.(10+n)/24, agent API :9610
//                 ┌──hv1──┐   ┌──hv2──┐      ┌──hvN──┐  srv6-agent serve (own config, queue
//  VMs ──v-<vm>-i─┤ agent │   │ agent │  …   │ agent │  srv6-agent:<run>-hvN, state dir, token)
//                 └──ul0──┘   └──ul0──┘      └──ul0──┘
//                     │fc00:ff:n::2/64 (MTU 1500)
//                 ┌──hv1─────────hv2────── … ───hvN──┐
//                 │ fab: IPv6 router, fc00:ff:n::1/64 │  routes: locator of HV n via fc00:ff:n::2
//                 └───────────────────────────────────┘
//
//   HV n: locator fc00:0:n::/48 (unreachable in its own main table: an unknown SID is dropped
//   there, not bounced back to the fabric), default route via the fabric, encap source
//   fc00:ff:n::2. VMs: see vm.ts. Every namespace is `srv6t-<tag>-...-<pid>-<random>`
//   (scripts/test.sh sweeps those of dead test processes); processes, directories and namespaces
//   are registered for cleanup before they exist (cleanup-registry.ts).
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { HypervisorClient } from '../../client/hypervisor-client';
import { NETNS_PREFIX, TestNetns } from '../netns';
import { scaled } from '../time-scale';
import { AgentProcess } from './agent-process';
import { keepDir, removeDir, sweepStale, trackDir } from './cleanup-registry';
import { NetnsRedis } from './redis-server';
import { Vm, VmSpec } from './vm';

/** Tags of the e2e data centers: leftovers of dead runs with these tags are swept at build. */
export const E2E_TAGS = ['ten', 'flt', 'scl'];

export interface DataCenterOptions {
  /** Short tag in every name of this data center ("ten", "scale"). */
  tag: string;
  hvs: number;
  vms?: VmSpec[];
  /** Agent settings (queue lock, periodic resync). */
  agent?: { lockMs?: number; resyncSeconds?: number };
  /** Underlay MTU (every fabric link). */
  underlayMtu?: number;
}

export class Hypervisor {
  locator: string;
  readonly client: HypervisorClient;

  constructor(
    readonly n: number,
    /** Queue / hypervisor name. */
    readonly name: string,
    readonly ns: TestNetns,
    readonly agent: AgentProcess,
    redisClientUrl: string,
  ) {
    this.locator = `fc00:0:${n}::/48`;
    this.client = new HypervisorClient({ redisUrl: redisClientUrl, hypervisor: name, timeoutMs: scaled(60_000) });
  }

  get underlayAddress(): string {
    return `fc00:ff:${this.n}::2`;
  }

  get mgmtAddress(): string {
    return mgmtAddress(this.n);
  }
}

const mgmtAddress = (n: number) => `10.255.0.${10 + n}`;
export const CTL_ADDRESS = '10.255.0.1';
export const UNDERLAY_MTU = 1500;

export class DataCenter {
  readonly hvs: Hypervisor[] = [];
  readonly vms = new Map<string, Vm>();
  readonly ctl: TestNetns;
  readonly fabric: TestNetns;
  readonly redis: NetnsRedis;
  private destroyed = false;
  /** How long each part of destroy() took (reported by the suites: slow under the lab's TCG). */
  readonly teardown: string[] = [];

  private constructor(
    readonly o: DataCenterOptions,
    readonly dir: string,
  ) {
    this.ctl = TestNetns.create(`${o.tag}-ctl`);
    this.fabric = TestNetns.create(`${o.tag}-fab`);
    const redisDir = join(dir, 'redis');
    mkdirSync(redisDir);
    this.redis = new NetnsRedis(this.ctl.name, CTL_ADDRESS, 6379, redisDir);
  }

  /** Builds and starts everything; on any failure tears down what it made and rethrows. */
  static async build(o: DataCenterOptions): Promise<DataCenter> {
    sweepStale(E2E_TAGS);
    if (!E2E_TAGS.includes(o.tag)) throw new Error(`tag ${o.tag}: add it to E2E_TAGS (what sweepStale may remove)`);
    const dir = join(tmpdir(), `${NETNS_PREFIX}${o.tag}-${process.pid}-${randomBytes(3).toString('hex')}`);
    trackDir(dir); // registered before it exists
    mkdirSync(dir);
    let dc: DataCenter | undefined;
    try {
      dc = new DataCenter(o, dir);
      await dc.setUp();
      return dc;
    } catch (e) {
      await dc?.destroy();
      removeDir(dir);
      throw e;
    }
  }

  private async setUp(): Promise<void> {
    const o = this.o;
    const mtu = o.underlayMtu ?? UNDERLAY_MTU;
    this.ctl.ipBatch(['link add br0 type bridge', 'link set br0 up', `addr add ${CTL_ADDRESS}/24 dev br0`]);
    this.fabric.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    const runId = `${o.tag}-${process.pid}-${randomBytes(2).toString('hex')}`;
    for (let n = 1; n <= o.hvs; n++) {
      const ns = TestNetns.create(`${o.tag}-hv${n}`);
      ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      // Management: a port of the controller's bridge.
      this.ctl.ip(['link', 'add', `mg${n}`, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', ns.name]);
      this.ctl.ipBatch([`link set mg${n} master br0`, `link set mg${n} up`]);
      // Underlay: a routed link to the fabric.
      this.fabric.ip(['link', 'add', `hv${n}`, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'ul0', 'mtu', String(mtu), 'netns', ns.name]);
      this.fabric.ipBatch([`addr add fc00:ff:${n}::1/64 dev hv${n} nodad`, `link set hv${n} up`, `route add fc00:0:${n}::/48 via fc00:ff:${n}::2 dev hv${n}`]);
      // Like a wire, the underlay carries complete checksums (a veth would pass a local sender's
      // CHECKSUM_PARTIAL on, which XDP cannot hand over: docs/adr/0004).
      this.fabric.exec('ethtool', ['-K', `hv${n}`, 'tx', 'off']);
      ns.exec('ethtool', ['-K', 'ul0', 'tx', 'off']);
      ns.ipBatch([
        `addr add ${mgmtAddress(n)}/24 dev mgmt0`,
        'link set mgmt0 up',
        `addr add fc00:ff:${n}::2/64 dev ul0 nodad`,
        'link set ul0 up',
        `route add default via fc00:ff:${n}::1 dev ul0`,
        `route add unreachable fc00:0:${n}::/48`,
      ]);
      const agentDir = join(this.dir, `hv${n}`);
      mkdirSync(agentDir);
      const agent = new AgentProcess({
        hypervisor: `${runId}-hv${n}`,
        netns: ns.name,
        mgmtAddress: mgmtAddress(n),
        callerNetns: this.ctl.name,
        redisUrl: this.redis.url,
        dir: agentDir,
        lockMs: o.agent?.lockMs,
        resyncSeconds: o.agent?.resyncSeconds,
      });
      this.hvs.push(new Hypervisor(n, `${runId}-hv${n}`, ns, agent, this.redis.clientUrl));
    }
    await this.redis.start();
    const vmDir = join(this.dir, 'vms');
    mkdirSync(vmDir);
    for (const spec of o.vms ?? []) {
      const vm = new Vm(spec, TestNetns.create(`${o.tag}-${spec.name}`), vmDir);
      this.vms.set(spec.name, vm);
      vm.plug(spec.hv, this.hv(spec.hv).ns);
    }
    // The slow part (node starting Nest): all agents and probes at once.
    await Promise.all([...this.hvs.map((h) => h.agent.start()), ...[...this.vms.values()].map((v) => v.startProbe())]);
  }

  hv(n: number): Hypervisor {
    const h = this.hvs[n - 1];
    if (!h) throw new Error(`no hypervisor ${n}`);
    return h;
  }

  vm(name: string): Vm {
    const v = this.vms.get(name);
    if (!v) throw new Error(`no VM ${name}`);
    return v;
  }

  /** Moves a VM's NICs from its hypervisor to another (the VM keeps running: same namespace, same probe). */
  moveVm(name: string, to: number): void {
    const vm = this.vm(name);
    vm.unplug(this.hv(vm.hv).ns);
    vm.plug(to, this.hv(to).ns);
  }

  /**
   * The fabric learns a new locator of HV n, as routing would announce it, and the HV drops
   * unknown SIDs of it; the old one stays routed until withdrawn (withdrawLocator). The agent is
   * told separately (upsert-node with the new locator: nodeJob uses Hypervisor.locator).
   */
  announceLocator(n: number, locator: string): string {
    const h = this.hv(n);
    const old = h.locator;
    this.fabric.ip(['route', 'replace', locator, 'via', `fc00:ff:${n}::2`, 'dev', `hv${n}`]);
    h.ns.ip(['route', 'replace', 'unreachable', locator]);
    h.locator = locator;
    return old;
  }

  withdrawLocator(n: number, locator: string): void {
    if (this.hv(n).locator === locator) throw new Error(`${locator} is hv${n}'s current locator`);
    this.fabric.ip(['route', 'del', locator]);
    this.hv(n).ns.ip(['route', 'del', 'unreachable', locator]);
  }

  /** Stops everything (agents by SIGTERM, then probes and Redis), deletes the namespaces and the directory. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    let t = performance.now();
    const took = (phase: string) => {
      const now = performance.now();
      this.teardown.push(`${phase} ${((now - t) / 1000).toFixed(1)} s`);
      t = now;
    };
    await Promise.all(this.hvs.map((h) => h.client.close().catch(() => undefined)));
    await Promise.all([...this.hvs.map((h) => h.agent.stop()), ...[...this.vms.values()].map((v) => v.stopProbe())]);
    took('agents and probes stopped');
    await this.redis.stop();
    for (const h of this.hvs) h.agent.removePins();
    took('redis stopped');
    for (const v of this.vms.values()) v.ns.destroy();
    for (const h of this.hvs) h.ns.destroy();
    this.fabric.destroy();
    this.ctl.destroy();
    took('namespaces deleted');
    if (process.env.SRV6_E2E_KEEP_LOGS) {
      // Renamed out of what sweepStale removes: kept until removed by hand.
      const kept = join(tmpdir(), `srv6t-e2e-logs-${basename(this.dir).slice(NETNS_PREFIX.length)}`);
      renameSync(this.dir, kept);
      keepDir(this.dir);
      process.stderr.write(`e2e logs kept in ${kept}\n`);
    } else removeDir(this.dir);
  }
}

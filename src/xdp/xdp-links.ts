// The offload's attachments: one pinned bpf_link per underlay interface (<pinDir>/link_<ifname>).
// Links are reopened from their pins after a restart, created where missing (native mode; generic
// only as a reported fallback), updated atomically when they run another build or configuration
// of the program (the meta map says which one they run), and detached where no longer wanted.
import { readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

import { BpfError, BpfObject, BpfProgram, XdpLink, XdpMode } from '../bpf/libbpf';
import { InvalidArgumentError } from '../netlink/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { MAPS, META_LAYOUT, META_SIZE, u32Key } from './layout';

const META = META_LAYOUT.fields;

const LINK_PREFIX = 'link_';

/** Native attach errors after which generic mode is worth trying. */
const FALLBACK_CODES = new Set(['EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'ERANGE']);

export type XdpAttachMode = 'native' | 'generic';

export interface XdpAttachment {
  ifname: string;
  ifindex: number;
  /** What the kernel reports for the device (rtnetlink IFLA_XDP). */
  mode: XdpAttachMode | 'unknown';
  linkId: number;
  progId: number;
  pin: string;
  /** Set when native mode failed and generic mode was used instead: why native failed. */
  fallback?: string;
}

export interface XdpLinkOptions {
  /** Network namespace of the underlay devices (name or path); default: ours. */
  netns?: string;
  /** 'generic' forces generic (skb) mode; default 'native'. */
  mode?: XdpAttachMode;
  /** When native attach fails, attach in generic mode and report it (default true). */
  genericFallback?: boolean;
}

/** Names of the pinned links in a pin directory (their interfaces); none if it does not exist. */
export function pinnedLinks(pinDir: string): string[] {
  try {
    return readdirSync(pinDir)
      .filter((f) => f.startsWith(LINK_PREFIX))
      .map((f) => f.slice(LINK_PREFIX.length));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export class XdpLinks {
  private links = new Map<string, { link: XdpLink; fallback?: string }>();

  constructor(
    private readonly obj: BpfObject,
    private readonly prog: BpfProgram,
    private readonly identity: string,
    private readonly pinDir: string,
    private readonly opts: XdpLinkOptions,
    private readonly warn: (msg: string) => void,
  ) {}

  /** Takes over the pinned links; forgets (unpins) those whose device went away. */
  reopen(): void {
    for (const f of readdirSync(this.pinDir)) {
      if (!f.startsWith(LINK_PREFIX)) continue;
      const pin = join(this.pinDir, f);
      const link = XdpLink.fromPinned(pin);
      if (!link.info().ifindex) {
        // The device went away (its links went with it): forget the pin.
        this.warn(`xdp offload: ${pin} is detached (device gone): removing the pin`);
        link.close();
        unlinkSync(pin);
        continue;
      }
      this.links.set(f.slice(LINK_PREFIX.length), { link });
    }
  }

  private netlink<T>(fn: (nl: Rtnetlink) => Promise<T>): Promise<T> {
    const nl = Rtnetlink.open({ netns: this.opts.netns });
    return fn(nl).finally(() => nl.close());
  }

  // srv6_meta: the identity of the program the links run.
  private readMeta(): string {
    const v = this.obj.map(MAPS.meta).lookup(u32Key(0));
    return v ? v.subarray(META.identity.offset, META.identity.offset + META.identity.size).toString('hex') : '';
  }

  private writeMeta(): void {
    const b = Buffer.alloc(META_SIZE);
    Buffer.from(this.identity, 'hex').copy(b, META.identity.offset);
    b.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n, META.loaded_ns.offset);
    this.obj.map(MAPS.meta).update(u32Key(0), b);
  }

  /**
   * Attaches to exactly `ifnames`: creates missing links (pinned), updates links that run another
   * build or configuration of the program (atomically), detaches links of other interfaces.
   */
  async attach(ifnames: string[]): Promise<{ attachments: XdpAttachment[]; detached: string[]; updated: string[] }> {
    const wanted = [...new Set(ifnames)];
    const detached: string[] = [];
    const updated: string[] = [];
    const index = await this.netlink(async (nl) => {
      const m = new Map<string, number>();
      for (const name of wanted) {
        const l = await nl.link(name);
        if (!l) throw new InvalidArgumentError('underlay', `no interface ${name}${this.opts.netns ? ` in netns ${this.opts.netns}` : ''}`);
        m.set(name, l.index);
      }
      return m;
    });

    for (const name of [...this.links.keys()])
      if (!index.has(name)) {
        this.detachOne(name);
        detached.push(name);
      }

    const stale = this.readMeta() !== this.identity;
    for (const [name, ifindex] of index) {
      const have = this.links.get(name);
      if (have && have.link.info().ifindex === ifindex) {
        if (stale) {
          have.link.update(this.prog);
          updated.push(name);
        }
        continue;
      }
      if (have) this.detachOne(name); // the device was re-created under the same name
      this.links.set(name, this.attachOne(name, ifindex));
    }
    this.writeMeta();
    return { attachments: await this.attachments(), detached, updated };
  }

  private attachOne(ifname: string, ifindex: number): { link: XdpLink; fallback?: string } {
    const pin = join(this.pinDir, LINK_PREFIX + ifname);
    rmSync(pin, { force: true }); // a detached leftover
    const generic = this.opts.mode === 'generic';
    let link: XdpLink;
    let fallback: string | undefined;
    try {
      link = XdpLink.attach(this.prog, ifindex, { netns: this.opts.netns, mode: generic ? XdpMode.Skb : XdpMode.Drv });
    } catch (err) {
      if (generic || this.opts.genericFallback === false || !(err instanceof BpfError) || !FALLBACK_CODES.has(err.code)) throw err;
      fallback = `native mode: ${err.code}${err.log ? ` (${err.log.trim().split('\n').pop()})` : ''}`;
      this.warn(`xdp offload: ${ifname}: ${fallback}; attached in generic mode (slower than the kernel path)`);
      link = XdpLink.attach(this.prog, ifindex, { netns: this.opts.netns, mode: XdpMode.Skb });
    }
    try {
      link.pin(pin);
    } catch (err) {
      link.close(); // unpinned: the kernel detaches it with its last fd
      throw err;
    }
    return { link, fallback };
  }

  private detachOne(name: string): void {
    const l = this.links.get(name);
    if (!l) return;
    this.links.delete(name);
    try {
      l.link.detach();
    } catch (err) {
      // Already detached by the kernel (its device went away): nothing left to do.
      if (!(err instanceof BpfError) || !['ENOLINK', 'ENODEV', 'EINVAL'].includes(err.code)) throw err;
    } finally {
      l.link.close();
      rmSync(join(this.pinDir, LINK_PREFIX + name), { force: true });
    }
  }

  /** Detaches every link and removes its pin (the maps stay pinned). */
  detachAll(): string[] {
    const names = [...this.links.keys()];
    for (const n of names) this.detachOne(n);
    return names;
  }

  /** The links and what the kernel says about them. */
  async attachments(): Promise<XdpAttachment[]> {
    const out: XdpAttachment[] = [];
    await this.netlink(async (nl) => {
      for (const [ifname, { link, fallback }] of this.links) {
        const info = link.info();
        const dev = await nl.link(ifname);
        const attached = dev?.xdp?.attached;
        const mode = attached === 'driver' ? 'native' : attached === 'generic' ? 'generic' : 'unknown';
        out.push({
          ifname,
          ifindex: info.ifindex ?? 0,
          mode,
          linkId: info.id,
          progId: info.progId,
          pin: join(this.pinDir, LINK_PREFIX + ifname),
          ...(fallback ? { fallback } : {}),
        });
      }
    });
    return out.sort((a, b) => a.ifname.localeCompare(b.ifname));
  }

  /** Closes our fds; pinned links stay attached. */
  close(): void {
    for (const { link } of this.links.values()) link.close();
    this.links.clear();
  }
}

// The "SEG6" generic netlink family of one network namespace: the tunnel source (seg6-tunsrc.ts).
// Its own socket (NETLINK_GENERIC), opened on first use; the family id is looked up once.
import { KernelError } from './errors';
import { decodeFamilyId, familyRequest, NETLINK_GENERIC } from './genl';
import { decodeTunsrc, SEG6_GENL_NAME, tunsrcGetRequest, tunsrcSetRequest } from './seg6-tunsrc';
import type { NetnsRef } from '../native/addon';
import { NetlinkSocket } from './socket';

export class Seg6Genl {
  private socket?: NetlinkSocket;
  private family?: Promise<number | undefined>;

  constructor(private readonly netns?: NetnsRef) {}

  /** The family's id; undefined when the kernel has no seg6 at all (no family "SEG6": ENOENT). */
  private familyId(): Promise<number | undefined> {
    return (this.family ??= (async () => {
      try {
        const [m] = await this.sock().get(familyRequest(SEG6_GENL_NAME));
        return decodeFamilyId(m);
      } catch (e) {
        if (e instanceof KernelError && e.code === 'ENOENT') return undefined;
        this.family = undefined; // a socket problem: ask again next time
        throw e;
      }
    })());
  }

  private sock(): NetlinkSocket {
    return (this.socket ??= new NetlinkSocket({ netns: this.netns, protocol: NETLINK_GENERIC }));
  }

  /** Whether the kernel has the family (and so a tunnel source to set). */
  async available(): Promise<boolean> {
    return (await this.familyId()) !== undefined;
  }

  /** The namespace's tunnel source ("::": none); undefined without the family. */
  async tunsrc(): Promise<string | undefined> {
    const id = await this.familyId();
    if (id === undefined) return undefined;
    const [m] = await this.sock().get(tunsrcGetRequest(id));
    return decodeTunsrc(m);
  }

  async setTunsrc(address: string): Promise<void> {
    const id = await this.familyId();
    if (id === undefined) throw new Error(`no generic netlink family ${SEG6_GENL_NAME}: the kernel has no seg6`);
    await this.sock().exec(tunsrcSetRequest(id, address));
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

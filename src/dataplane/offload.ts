// What the dataplane needs of a datapath beside the kernel's objects that follows the same desired
// state: today the XDP decapsulation (src/xdp/xdp-sync.ts), next an eBPF SRv6 datapath. The
// dataplane calls it after every apply and knows nothing else of it, so dependencies point one
// way: an offload imports the dataplane's types, the dataplane imports no offload.
import type { Link } from '../netlink/link';
import type { OpFailure } from './applier';
import type { DesiredState } from './desired-state';

/** What one sync did, in a reconcile's result (`xdp`). */
export interface OffloadReport {
  /** SIDs in the offload's map after the sync. */
  sids: number;
  added: number;
  updated: number;
  deleted: number;
  attachments: { ifname: string; mode: string; fallback?: string }[];
  detached: string[];
  /** Links whose program was replaced atomically (another build of it). */
  replaced: string[];
  shadowed: { sid: string; reason: string }[];
  /** Offloaded tenants left to the kernel path, and why. */
  skipped: { tenant: string; reason: string }[];
}

export interface Offload {
  /**
   * Makes the offload follow `state` after the kernel objects were applied. `links`: the
   * interfaces the reconcile observed (all of them for a full one). Never throws: what it could
   * not do comes back as failures (kind 'xdp'), which fail the reconcile like an operation.
   */
  reconcile(
    state: DesiredState,
    links: Map<string, Pick<Link, 'name' | 'index'>>,
    scope: 'full' | 'tenant',
  ): Promise<{ failed: OpFailure[]; report?: OffloadReport }>;
  /** Interfaces whose re-creation it must hear of (drift): an attached program goes with its device. */
  watchedInterfaces(state: DesiredState): string[];
  /** Releases its file descriptors; what it pinned stays (traffic keeps flowing through a restart). */
  close(): void;
}

/** The Nest token under which the application provides its Offload (src/xdp/xdp.module.ts). */
export const OFFLOAD = Symbol('Offload');

// The VM NIC observer (bpf/xdp/vm_nic.bpf.c) for the XDP topology tests and benchmarks: what
// reached a VM, counted (and recorded) on the VM's own interface, independent of the offload.
import { join } from 'node:path';

import { BpfObject, RingBuffer, XdpLink, XdpMode } from '../../bpf/libbpf';
import { packageRoot } from '../../native/addon';
import { u32Key } from '../../xdp/layout';
import type { TestNetns } from '../netns';

export const VM_NIC_OBJECT = () => join(packageRoot(), 'bpf/build/xdp/vm_nic.bpf.o');

/**
 * vm_nic attached (native) to a VM's interface inside its namespace: gives the veth peer the NAPI
 * instance XDP_REDIRECT into veth needs, counts frames, optionally records them or drops them.
 */
export class VmNic {
  readonly frames: Buffer[] = [];
  private ring?: RingBuffer;

  private constructor(
    private readonly obj: BpfObject,
    private readonly link: XdpLink,
  ) {}

  static async attach(ns: TestNetns, dev: string, opts: { record?: boolean; drop?: boolean } = {}): Promise<VmNic> {
    const obj = await BpfObject.load(VM_NIC_OBJECT(), { globals: { nic_record: u32Key(opts.record ? 1 : 0), nic_drop: u32Key(opts.drop ? 1 : 0) } });
    let link: XdpLink;
    try {
      link = XdpLink.attach(obj.prog('vm_nic_rx'), dev, { netns: ns.name, mode: XdpMode.Drv });
    } catch (e) {
      obj.close();
      throw e;
    }
    const nic = new VmNic(obj, link);
    if (opts.record)
      nic.ring = RingBuffer.open(obj.map('nic_frames'), (samples) => {
        for (const s of samples) nic.frames.push(Buffer.from(s.subarray(4, 4 + Math.min(s.readUInt32LE(0), 256))));
      }).unref();
    return nic;
  }

  /** Frames received so far (summed over CPUs). */
  packets(): number {
    return (this.obj.map('nic_packets').lookupPerCpu(u32Key(0)) ?? []).reduce((a, b) => a + Number(b.readBigUInt64LE(0)), 0);
  }

  close(): void {
    this.ring?.close();
    this.link.close(); // not pinned: detached with its last fd
    this.obj.close();
  }
}

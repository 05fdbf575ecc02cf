// `serve --sandbox`: the agent manages a namespace of its own instead of the host, with a veth
// pair standing in for the underlay and another for a VM's tap (the README's example tenant uses
// it). Idempotent: created when missing, repaired when incomplete, reused as it is otherwise; kept
// on exit (like the dataplane it will hold).
import { Rtnetlink } from '../netlink';
import { addNetns, netnsExists } from '../kernel/named-netns';

export interface SandboxSpec {
  netns: string;
  uplink: string;
  peer: string;
  /** A VM's tap on this HV (a tenant interface) and its VM-side peer. */
  tap: string;
  vm: string;
  /** IPv6 address of the uplink, "addr/len" (added with nodad). */
  address: string;
}

export const SANDBOX: SandboxSpec = {
  netns: 'srv6-sandbox',
  uplink: 'sbx-uplink',
  peer: 'sbx-peer',
  tap: 'sbx-tap0',
  vm: 'sbx-vm0',
  address: 'fc00:0:ffff::1/64',
};

/** Makes sure the sandbox exists; returns what had to be done (empty: reused as it was). */
export async function ensureSandbox(spec: SandboxSpec = SANDBOX): Promise<string[]> {
  const done: string[] = [];
  if (!netnsExists(spec.netns)) {
    await addNetns(spec.netns);
    done.push(`created netns ${spec.netns}`);
  }
  const rt = Rtnetlink.open({ netns: spec.netns });
  try {
    const lo = await rt.link('lo');
    if (!lo?.up) {
      await rt.setLink('lo', { up: true });
      done.push('set lo up');
    }
    for (const [a, b] of [
      [spec.uplink, spec.peer],
      [spec.tap, spec.vm],
    ]) {
      const l = await rt.link(a);
      if (l && l.kind !== 'veth')
        throw new Error(`${spec.netns}: ${a} exists but is a ${l.kind ?? 'device of unknown kind'}, not a veth (delete the namespace to start over)`);
      if (!l) {
        await rt.createLink({ name: a, kind: 'veth', peer: { name: b } });
        done.push(`created veth ${a}/${b}`);
      }
      for (const name of [b, a]) {
        const x = await rt.link(name);
        if (!x) throw new Error(`${spec.netns}: ${name} is missing (delete the namespace to start over)`);
        if (!x.up) {
          await rt.setLink(name, { up: true });
          done.push(`set ${name} up`);
        }
      }
    }
    const uplink = (await rt.link(spec.uplink))!;
    const addrs = await rt.addresses(6, uplink.index);
    if (!addrs.some((a) => a.index === uplink!.index && a.address === spec.address)) {
      await rt.addAddress({ index: uplink.index, address: spec.address, nodad: true });
      done.push(`added ${spec.address} to ${spec.uplink}`);
    }
  } finally {
    rt.close();
  }
  return done;
}

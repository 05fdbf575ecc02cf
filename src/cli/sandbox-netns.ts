// `serve --sandbox`: the agent manages a namespace of its own instead of the host, with a veth
// pair standing in for the underlay. Idempotent: created when missing, repaired when incomplete,
// reused as it is otherwise; kept on exit (like the dataplane it will hold).
import { Rtnetlink } from '../netlink';
import { addNetns, netnsExists } from '../kernel/named-netns';

export interface SandboxSpec {
  netns: string;
  uplink: string;
  peer: string;
  /** IPv6 address of the uplink, "addr/len" (added with nodad). */
  address: string;
}

export const SANDBOX: SandboxSpec = {
  netns: 'srv6-sandbox',
  uplink: 'sbx-uplink',
  peer: 'sbx-peer',
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
    let uplink = await rt.link(spec.uplink);
    if (uplink && uplink.kind !== 'veth')
      throw new Error(`${spec.netns}: ${spec.uplink} exists but is a ${uplink.kind ?? 'device of unknown kind'}, not a veth (delete the namespace to start over)`);
    if (!uplink) {
      await rt.createLink({ name: spec.uplink, kind: 'veth', peer: { name: spec.peer } });
      done.push(`created veth ${spec.uplink}/${spec.peer}`);
      uplink = (await rt.link(spec.uplink))!;
    }
    for (const name of [spec.peer, spec.uplink]) {
      const l = await rt.link(name);
      if (!l) throw new Error(`${spec.netns}: ${name} is missing (delete the namespace to start over)`);
      if (!l.up) {
        await rt.setLink(name, { up: true });
        done.push(`set ${name} up`);
      }
    }
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

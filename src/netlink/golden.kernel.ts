// Golden cases against the live kernel: iproute2 creates, the kernel dumps, our decoder and our
// encoder must agree with both. UPDATE_GOLDEN=1 records the kernel's bytes for golden.spec.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithKernel, GOLDEN_CASES, GoldenKind, Ix } from '../testing/golden-cases';
import { Rtnetlink } from './rtnetlink';
import { RTM } from './constants';
import { decodeAddress } from './address';
import { decodeNexthop } from './nexthop';
import { decodeRoute } from './route';
import { decodeRule } from './rule';
import { linkGetRequest } from './link';
import { addressDumpRequest } from './address';
import { nexthopDumpRequest } from './nexthop';
import { routeDumpRequest } from './route';
import { ruleDumpRequest } from './rule';
import { itWith } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';

const DUMPS: Record<GoldenKind, { req: () => any; type: number; decode: (m: any) => any }> = {
  route: { req: () => routeDumpRequest(), type: RTM.NEWROUTE, decode: decodeRoute },
  nexthop: { req: () => nexthopDumpRequest(), type: RTM.NEWNEXTHOP, decode: decodeNexthop },
  rule: { req: () => ruleDumpRequest(), type: RTM.NEWRULE, decode: decodeRule },
  address: { req: () => addressDumpRequest(), type: RTM.NEWADDR, decode: decodeAddress },
};

describe('golden: iproute2 → kernel → our decoder and encoder', () => {
  let ns: TestNetns;
  let nl: Rtnetlink;
  let ix: Ix;
  afterAll(() => {
    nl?.close();
    destroyAllNetns();
  });
  beforeAll(async () => {
    ns = TestNetns.create('golden');
    ns.ip(['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    ns.ip(['link', 'set', 'v0', 'up']);
    ns.ip(['link', 'set', 'v1', 'up']);
    nl = Rtnetlink.open({ netns: ns.name });
    const [v0, v1] = await Promise.all([nl.link('v0'), nl.link('v1')]);
    ix = { v0: v0!.index, v1: v1!.index };
    expect(linkGetRequest('v0').what).toBe('link v0');
  });

  for (const c of GOLDEN_CASES)
    itWith(...(c.needs ?? []))(c.name, async () => {
      for (const args of c.ip) ns.ip(args);
      const d = DUMPS[c.kind];
      const msgs = (await nl.socket.dump(d.req())).filter((m) => m.type === d.type);
      const found = msgs.filter((m) => c.select(d.decode(m)));
      expect(found).toHaveLength(1);
      const msg = found[0];
      expect(d.decode(msg)).toMatchObject(c.expected(ix));
      expect(compareWithKernel(c, c.request(ix).body, msg.payload)).toEqual([]);
      if (process.env.UPDATE_GOLDEN) {
        const file = join(__dirname, '__golden__', `${c.name}.json`);
        writeFileSync(file, `${JSON.stringify({ name: c.name, ix, type: msg.type, payload: msg.payload.toString('hex') }, null, 1)}\n`);
      }
    });
});

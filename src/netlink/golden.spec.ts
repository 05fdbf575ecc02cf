// Replays the kernel's recorded dumps (see golden.kernel.ts) without root: decoder and encoder.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAddress } from './address';
import { compareWithKernel, GOLDEN_CASES, GoldenKind } from '../testing/golden-cases';
import { decodeNexthop } from './nexthop';
import { decodeRoute } from './route';
import { decodeRule } from './rule';

const DECODE: Record<GoldenKind, (m: any) => any> = { route: decodeRoute, nexthop: decodeNexthop, rule: decodeRule, address: decodeAddress };

describe('golden bytes recorded from the kernel', () => {
  it.each(GOLDEN_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const rec = JSON.parse(readFileSync(join(__dirname, '__golden__', `${c.name}.json`), 'utf8'));
    const payload = Buffer.from(rec.payload, 'hex');
    const msg = { type: rec.type, flags: 0, seq: 0, pid: 0, payload };
    expect(c.select(DECODE[c.kind](msg))).toBe(true);
    expect(DECODE[c.kind](msg)).toMatchObject(c.expected(rec.ix));
    expect(compareWithKernel(c, c.request(rec.ix).body, payload)).toEqual([]);
  });

  it('a changed SID changes the comparison (the check can fail)', () => {
    const c = GOLDEN_CASES.find((x) => x.name === 'route4-seg6-encap-2sids')!;
    const rec = JSON.parse(readFileSync(join(__dirname, '__golden__', `${c.name}.json`), 'utf8'));
    const payload = Buffer.from(rec.payload, 'hex');
    const i = payload.indexOf(Buffer.from('fc000003', 'hex'));
    payload[i + 3] = 4;
    expect(compareWithKernel(c, c.request(rec.ix).body, payload)).not.toEqual([]);
  });
});

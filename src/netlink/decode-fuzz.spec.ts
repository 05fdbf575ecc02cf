// Decoder fuzzing: random, truncated and bit-flipped input gives a typed error or a value —
// never another exception, a crash or a hang.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAddress } from './address';
import { NetlinkDecodeError } from './errors';
import { decodeLink } from './link';
import { parseErrorPayload, parseMessages } from './message';
import { decodeEvent } from './monitor';
import { decodeNeighbour } from './neighbour';
import { decodeNexthop } from './nexthop';
import { decodeRoute } from './route';
import { decodeRule } from './rule';
import './link-veth';
import './link-vrf';

// A small deterministic PRNG so a failure can be replayed.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const decoders = [decodeRoute, decodeNexthop, decodeRule, decodeAddress, decodeLink, decodeNeighbour];
const seeds = readdirSync(join(__dirname, '__golden__')).map((f) =>
  Buffer.from(JSON.parse(readFileSync(join(__dirname, '__golden__', f), 'utf8')).payload, 'hex'),
);

function expectTypedOrValue(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof NetlinkDecodeError)) throw new Error(`untyped error: ${(e as Error)?.stack}`);
  }
}

describe('decoder fuzzing', () => {
  it('random bytes', () => {
    const r = rng(1);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
      const msg = { type: 24, flags: 0x200, seq: 0, pid: 0, payload: b };
      for (const d of decoders) expectTypedOrValue(() => d(msg));
      expectTypedOrValue(() => parseMessages(b));
      expectTypedOrValue(() => parseErrorPayload({ ...msg, type: 2 }));
      expectTypedOrValue(() => decodeEvent(msg));
    }
  });

  it('every truncation and many bit flips of real kernel dumps', () => {
    const r = rng(2);
    for (const seed of seeds) {
      for (let len = 0; len <= seed.length; len++) {
        const msg = { type: 24, flags: 0, seq: 0, pid: 0, payload: seed.subarray(0, len) };
        for (const d of decoders) expectTypedOrValue(() => d(msg));
      }
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(seed);
        b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
        for (const d of decoders) expectTypedOrValue(() => d({ type: 24, flags: 0, seq: 0, pid: 0, payload: b }));
      }
    }
  });

  it('frames with lying lengths are rejected, not looped on', () => {
    const b = Buffer.alloc(32);
    b.writeUInt32LE(0, 0); // nlmsg_len 0 would loop forever without the check
    expect(() => parseMessages(b)).toThrow(NetlinkDecodeError);
    b.writeUInt32LE(1000, 0);
    expect(() => parseMessages(b)).toThrow(NetlinkDecodeError);
  });
});

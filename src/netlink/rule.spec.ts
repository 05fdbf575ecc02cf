// Rule encoding: the goto action carries its target in FRA_GOTO (iproute2: `ip rule add iif ul0
// goto 1001 pref 998`); the kernel refuses a goto without one, and backward jumps.
import { parseAttrs } from './attributes';
import { FR_ACT, FRA } from './constants';
import { InvalidArgumentError } from './errors';
import { decodeRule, ruleAddRequest, ruleDeleteRequest, type Rule } from './rule';

const asMessage = (body: Buffer) => ({ type: 0, flags: 0, seq: 0, pid: 0, payload: body });

describe('rule encoding', () => {
  it('a goto rule: action FR_ACT_GOTO in the header, the target in FRA_GOTO, no table', () => {
    const { body } = ruleAddRequest({ family: 6, priority: 998, iif: 'ul0', action: 'goto', goto: 1001, protocol: 196 });
    expect(body.readUInt8(7)).toBe(FR_ACT.GOTO);
    expect(body.readUInt8(4)).toBe(0);
    const a = parseAttrs(body, 12);
    expect({ goto: a.u32(FRA.GOTO), priority: a.u32(FRA.PRIORITY), iif: a.string(FRA.IIFNAME), table: a.u32(FRA.TABLE) }).toEqual({
      goto: 1001,
      priority: 998,
      iif: 'ul0',
      table: undefined,
    });
  });

  it('decodes what it encodes (goto, dst selector, lookup)', () => {
    const rules: Rule[] = [
      { family: 4, priority: 998, iif: 'lo', action: 'goto', goto: 1001, protocol: 196 },
      { family: 6, priority: 999, dst: 'fe80::/64', action: 'lookup', table: 255, protocol: 196 },
      { family: 4, priority: 1000, iif: 'ta0', action: 'lookup', table: 5000, protocol: 196 },
    ];
    for (const r of rules) {
      const d = decodeRule(asMessage(ruleAddRequest(r).body));
      expect(d).toEqual(r); // a goto has no table (the kernel's 0 is RT_TABLE_UNSPEC)
      // What a dump decodes can be sent back: a goto rule of an old underlay must be deletable.
      expect(ruleDeleteRequest(d).body).toEqual(ruleDeleteRequest(r).body);
    }
  });

  it('a rule without a goto target decodes without one', () => {
    expect(decodeRule(asMessage(ruleAddRequest({ family: 4, priority: 5, table: 100 }).body)).goto).toBeUndefined();
  });

  it('names the goto in what it describes (errors quote it)', () => {
    expect(ruleDeleteRequest({ family: 4, priority: 998, iif: 'ul0', action: 'goto', goto: 1001 }).what).toBe('rule pref 998 iif ul0 goto 1001');
  });

  it.each<[string, Rule]>([
    ['goto without a target', { family: 4, priority: 998, action: 'goto' }],
    ['goto backwards', { family: 4, priority: 998, action: 'goto', goto: 10 }],
    ['goto to its own priority', { family: 4, priority: 998, action: 'goto', goto: 998 }],
    ['goto without a priority of its own', { family: 4, action: 'goto', goto: 1001 }],
    ['goto target beyond u32', { family: 4, priority: 1, action: 'goto', goto: 2 ** 32 }],
    ['a target on a lookup rule', { family: 4, priority: 1, table: 100, goto: 1001 }],
  ])('refuses %s, naming the field', (_name, r) => {
    let err: unknown;
    try {
      ruleAddRequest(r);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).message).toMatch(/goto/);
  });
});

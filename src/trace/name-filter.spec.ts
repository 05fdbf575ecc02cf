// The target filter: RegExp answers without RegExp's backtracking. Agreement with RegExp (a table
// and random patterns on strings short enough for RegExp to be safe), refusals with a position,
// linear cost counted in steps (not timed), and matching in slices that leave the event loop free.
import { compileNameFilter, matchNames, MAX_PROGRAM, MAX_REPEAT, NameFilter, NameFilterError, nameFilterProblem, Op } from './name-filter';

const NAMES = [
  '',
  'a',
  'seg6_do_srh_encap',
  '__seg6_do_srh_inline',
  'ip6_finish_output2',
  'ip_rcv',
  'ip6_rcv_core',
  '__dev_queue_xmit',
  'veth_xmit',
  'skb_gso_validate_network_len',
  'tcp_v4_rcv',
  'udp_v6_early_demux',
  'fn_12',
  'kfree_skb.cold',
  'x{2}',
  'aaaaaaaa!', // short: RegExp backtracks exponentially on (a+)+$ and (a*)*b (30 a's: 40 s, 80 s)
  'Ünïcode_naïve',
];

const PATTERNS = [
  'seg6',
  '^seg6',
  '^(seg6_.*|__seg6_.*|iptunnel_handle_offloads|input_action_end_dx4|ip_rcv|ip_forward|ip6_rcv_core|ip6_finish_output2|__dev_queue_xmit|veth_xmit)$',
  '^ip6?_',
  '^(seg6|ip6_|__dev_queue_xmit)',
  '^fn_1\\d$',
  '_xmit$',
  '(tcp|udp)_v[46]_',
  '^__?[a-z]+_',
  '[^a-z_0-9]',
  '\\.cold$',
  '\\w+\\.\\w+',
  '\\s|\\S{40}',
  'x{2}',
  'x\\{2\\}',
  'a{3,}!$',
  'a{0,2}',
  '^.{6}$',
  '^(?:ip|tcp)_',
  '^(?<proto>tcp|udp)_v',
  '(a+)+$',
  '(a|aa)*!',
  '^$',
  '$^',
  'e$|^s',
  '[]',
  '[^]',
  '[\\w-.]{20,}',
  '[a-]',
  '\\u00fc|\\xef',
  '(a*)*b',
  '(|x)+z',
  '^[-]',
];

describe('compileNameFilter', () => {
  it.each(PATTERNS)('agrees with RegExp: %s', (p) => {
    const re = new RegExp(p);
    const f = compileNameFilter(p);
    expect(NAMES.map((n) => f.test(n))).toEqual(NAMES.map((n) => re.test(n)));
  });

  it('agrees with RegExp on random patterns', () => {
    // Deterministic LCG; strings of at most 8 characters keep RegExp's backtracking harmless.
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const atoms = ['a', 'b', '_', '.', '\\d', '[ab]', '[^a]', '\\w', '1'];
    const gen = (depth: number): string => {
      const parts: string[] = [];
      for (let i = 0, n = 1 + rnd(3); i < n; i++) {
        let atom = depth > 0 && rnd(4) === 0 ? `(${gen(depth - 1)}${rnd(2) ? `|${gen(depth - 1)}` : ''})` : atoms[rnd(atoms.length)];
        atom += ['', '', '*', '+', '?', '{2}', '{0,2}', '{1,}'][rnd(8)];
        parts.push(atom);
      }
      return (rnd(4) === 0 ? '^' : '') + parts.join('') + (rnd(4) === 0 ? '$' : '');
    };
    const alphabet = 'ab_1.';
    const strings = Array.from({ length: 200 }, () => Array.from({ length: rnd(9) }, () => alphabet[rnd(alphabet.length)]).join(''));
    for (let k = 0; k < 300; k++) {
      const p = gen(2);
      const re = new RegExp(p);
      const f = compileNameFilter(p);
      for (const s of strings) if (f.test(s) !== re.test(s)) throw new Error(`${p} on ${JSON.stringify(s)}: RegExp ${re.test(s)}`);
    }
  });

  it.each([
    ['(a)\\1', 'backreferences (\\1)', 3],
    ['(?<x>a)\\k<x>', 'backreferences (\\k<name>)', 7],
    ['a(?=b)', 'lookahead and lookbehind', 1],
    ['a(?!b)', 'lookahead and lookbehind', 1],
    ['(?<=a)b', 'lookahead and lookbehind', 0],
    ['(?<!a)b', 'lookahead and lookbehind', 0],
    ['\\bseg6', 'word boundaries', 0],
    ['a{101}', `repetition count above ${MAX_REPEAT}`, 1],
    ['(', 'unterminated group', 0],
    ['a)', 'unmatched )', 1],
    ['[a', 'unterminated character class', 0],
    ['[z-a]', 'range out of order', 2],
    ['*a', 'nothing to repeat', 0],
    ['a**', 'nothing to repeat', 2],
    ['^*', 'nothing to repeat', 0],
    ['\\p{L}', 'unknown escape \\p', 0],
    ['a\\', '\\ at end of pattern', 1],
  ])('refuses %s: %s at %d', (p, reason, index) => {
    const err = (() => {
      try {
        compileNameFilter(p);
      } catch (e) {
        return e as NameFilterError;
      }
      throw new Error(`${p} was accepted`);
    })();
    expect(err).toBeInstanceOf(NameFilterError);
    expect(err.reason).toContain(reason);
    expect(err.index).toBe(index);
    expect(nameFilterProblem(p)).toBe(`${err.reason} (at position ${index})`);
  });

  it('refuses programs that counts would blow up, before building them', () => {
    expect(() => compileNameFilter('((a{100}){100}){100}')).toThrow(/pattern too large: \d+ instructions once counts are expanded \(at most 2000\)/);
    expect(() => compileNameFilter('(.*a){20}')).not.toThrow();
    expect(() => compileNameFilter('a'.repeat(1025))).toThrow(/longer than 1024/);
    expect(() => compileNameFilter('('.repeat(65) + ')'.repeat(65))).toThrow(/nested deeper than 64/);
  });

  it('compiles to a Thompson NFA: no instruction that backtracks or refers back', () => {
    for (const p of PATTERNS) {
      const { program } = compileNameFilter(p);
      expect(program.op.every((o) => [Op.Char, Op.Split, Op.Jmp, Op.Bol, Op.Eol, Op.Match].includes(o))).toBe(true);
      expect(program.op.length).toBeLessThanOrEqual(MAX_PROGRAM);
    }
  });
});

describe('NameFilter cost', () => {
  // Each character costs the threads of one DFA state and, when that state is new, its closure
  // and a fixed allocation charge: (length + 1) × (2 × program + 257) bounds the work.
  const bound = (f: NameFilter, name: string) => (name.length + 1) * (2 * f.program.op.length + 257);

  it.each([
    // [pattern, name, expected]: RegExp takes exponential time on each (not run here).
    ['(a+)+$', `${'a'.repeat(64)}!`, false],
    ['(\\w+)+\\.', 'skb_gso_validate_network_len_and_then_some_more_words', false],
    ['(.*a){20}', `${'xa'.repeat(19)}x`, false],
    ['(.*a){20}', 'xa'.repeat(20), true],
    ['^(_+)+$', `${'_'.repeat(60)}x`, false],
    ['(x+x+)+y', 'x'.repeat(200), false],
  ])('%s: linear work on a pathological name (case %#)', (p, name, expected) => {
    const f = compileNameFilter(p as string);
    expect(f.test(name as string)).toBe(expected);
    expect(f.work).toBeLessThanOrEqual(bound(f, name as string));
  });

  it('stays correct when the DFA cache starts over (a DFA-hostile pattern)', () => {
    const p = '[ab]*a[ab]{14}$'; // the 15th character from the end: 2^15 DFA states
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 1;
    const names = Array.from({ length: 3000 }, () => Array.from({ length: 40 }, () => 'ab'[rnd()]).join(''));
    const f = compileNameFilter(p);
    const re = new RegExp(p);
    expect(names.map((n) => f.test(n))).toEqual(names.map((n) => re.test(n)));
    expect(f.resets).toBeGreaterThan(0);
  });
});

describe('matchNames', () => {
  const names = Array.from({ length: 100_000 }, (_, i) => `skb_function_number_${i}_of_many`);

  it('gives the event loop turns while it matches', async () => {
    const f = compileNameFilter('(\\w+)+\\.'); // exponential for RegExp on every one of these names
    let immediates = 0;
    let timerFired = false;
    const tick = () => {
      immediates++;
      if (pending) setImmediate(tick);
    };
    let pending = true;
    setImmediate(tick);
    setTimeout(() => (timerFired = true), 0);
    const matched = await matchNames(f, names, { quantum: 50_000, sliceMs: 1e9 });
    pending = false;
    expect(matched.size).toBe(0);
    // The work is counted, not timed: at least one turn per quantum of it.
    expect(immediates).toBeGreaterThanOrEqual(Math.floor(f.work / 50_000));
    expect(timerFired).toBe(true);
  });

  it('returns the names that match', async () => {
    const matched = await matchNames(compileNameFilter('_9999[0-9]_'), names);
    expect([...matched].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `skb_function_number_9999${i}_of_many`));
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const run = matchNames(compileNameFilter('x$'), names, { quantum: 10_000 });
    const aborted = matchNames(compileNameFilter('x$'), names, { quantum: 10_000, signal: ac.signal });
    ac.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    await expect(run).resolves.toEqual(new Set());
  });
});

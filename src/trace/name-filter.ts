// The user's target filter (`-r`, REST `regex`): JavaScript regular expression syntax without the
// constructs that need backtracking, compiled to a Thompson NFA and matched as a lazily built DFA.
// V8's backtracking engine takes exponential time on patterns like `(\w+)+\.`: 0.3 s of a frozen
// event loop for a 24-character name, twice that per further character (the host's longest skb
// function name has 49); here a name costs at most (length + 1) × program size NFA steps.
//
// Supported: literals and escapes (\d \w \s \D \W \S \t \n \r \xHH \uHHHH, \. \* …), `.`, classes
// `[a-z_]` `[^0-9]`, groups `( )` `(?: )` `(?<name> )`, alternation `|`, quantifiers `* + ?
// {n} {n,} {n,m}` (lazy forms too: same result for a yes/no match), anchors `^` `$`.
// Refused, with the position: backreferences, lookahead/lookbehind, word boundaries (\b \B),
// counts above MAX_REPEAT, and programs above MAX_PROGRAM instructions once counts are expanded.
// Semantics are RegExp.prototype.test without flags: a match anywhere in the name.

import { TraceError } from './trace-error';

/** Longest pattern accepted (the REST body allows 256 characters). */
export const MAX_PATTERN_LENGTH = 1024;
/** Largest count in `{n,m}`. */
export const MAX_REPEAT = 100;
/** NFA instructions after counted repetitions are expanded: bounds the cost per character. */
export const MAX_PROGRAM = 2000;
/** Group nesting depth (the parser recurses per group). */
const MAX_DEPTH = 64;
/** DFA states kept; the cache starts over beyond (a new state costs one NFA step per thread). */
const MAX_DFA_STATES = 4096;

/** The REST body pipe and normalize() refuse bad patterns first; this answers direct callers. */
export class NameFilterError extends TraceError {
  override readonly name = 'NameFilterError';
  readonly retry = 'permanent';
  readonly status = 400;
  readonly error = 'InvalidTraceRequest';
  constructor(
    readonly pattern: string,
    /** 0-based position in the pattern. */
    readonly index: number,
    readonly reason: string,
  ) {
    super(`${reason} at position ${index} of ${JSON.stringify(pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern)}`);
  }

  /** The shape of every field error of the traces API. */
  override details() {
    return { errors: [{ field: 'regex', messages: [this.message] }] };
  }
}

/** What planning needs of a filter (a RegExp fits too: unit tests of the planner use one). */
export interface NameTest {
  test(name: string): boolean;
}

// ---- parsing ----

/** Code point ranges [lo, hi] inclusive, sorted, disjoint. */
type Ranges = number[];

type Node =
  | { t: 'set'; ranges: Ranges }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }
  | { t: 'bol' }
  | { t: 'eol' };

const MAX_CHAR = 0xffff;
const normalize = (r: Ranges): Ranges => {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < r.length; i += 2) pairs.push([r[i], r[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of pairs) {
    if (out.length && lo <= out[out.length - 1] + 1) out[out.length - 1] = Math.max(out[out.length - 1], hi);
    else out.push(lo, hi);
  }
  return out;
};
const negate = (r: Ranges): Ranges => {
  const out: Ranges = [];
  let next = 0;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i] > next) out.push(next, r[i] - 1);
    next = r[i + 1] + 1;
  }
  if (next <= MAX_CHAR) out.push(next, MAX_CHAR);
  return out;
};
const DIGIT: Ranges = [0x30, 0x39];
const WORD: Ranges = normalize([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
// ECMAScript WhiteSpace and LineTerminator.
const SPACE: Ranges = normalize([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
const DOT: Ranges = negate(normalize([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]));
const CLASS_ESCAPES: Record<string, Ranges> = { d: DIGIT, D: negate(DIGIT), w: WORD, W: negate(WORD), s: SPACE, S: negate(SPACE) };
const CONTROL_ESCAPES: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly p: string) {}

  parse(): Node {
    const n = this.alternation();
    if (this.i < this.p.length) this.fail(this.p[this.i] === ')' ? 'unmatched )' : `unexpected ${this.p[this.i]}`);
    return n;
  }

  fail(reason: string, at = this.i): never {
    throw new NameFilterError(this.p, at, reason);
  }

  private alternation(): Node {
    const items = [this.sequence()];
    while (this.p[this.i] === '|') {
      this.i++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0] : { t: 'alt', items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const at = this.i;
      const atom = this.atom();
      const q = this.quantifier();
      if (!q) {
        items.push(atom);
        continue;
      }
      if (atom.t === 'bol' || atom.t === 'eol') this.fail('nothing to repeat', at);
      items.push({ t: 'rep', node: atom, ...q });
    }
    return items.length === 1 ? items[0] : { t: 'cat', items };
  }

  /** A `{n}`, `{n,}` or `{n,m}` at `at` (elsewhere `{` is a literal, as in RegExp without the u flag). */
  private braces(at: number): RegExpExecArray | null {
    const re = /\{(\d+)(,(\d*))?\}/y;
    re.lastIndex = at;
    return re.exec(this.p);
  }

  /** `* + ? {n} {n,} {n,m}`, optionally lazy; undefined if none (a `{` that is not one is a literal). */
  private quantifier(): { min: number; max: number } | undefined {
    const c = this.p[this.i];
    let q: { min: number; max: number } | undefined;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (c === '{') {
      const m = this.braces(this.i);
      if (!m) return undefined;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail(`repetition count above ${MAX_REPEAT}`);
      if (max < min) this.fail('numbers out of order in {} quantifier');
      this.i += m[0].length;
      q = { min, max };
    }
    if (!q) return undefined;
    if (this.p[this.i] === '?') this.i++; // lazy: same answer for test()
    const n = this.p[this.i];
    if (n === '*' || n === '+' || n === '?' || (n === '{' && this.braces(this.i))) this.fail('nothing to repeat');
    return q;
  }

  private atom(): Node {
    const c = this.p[this.i];
    const at = this.i;
    switch (c) {
      case '^':
        this.i++;
        return { t: 'bol' };
      case '$':
        this.i++;
        return { t: 'eol' };
      case '.':
        this.i++;
        return { t: 'set', ranges: DOT };
      case '*':
      case '+':
      case '?':
        return this.fail('nothing to repeat');
      case '{':
        if (this.braces(this.i)) this.fail('nothing to repeat');
        this.i++;
        return { t: 'set', ranges: [0x7b, 0x7b] };
      case '[':
        return { t: 'set', ranges: this.charClass() };
      case '\\':
        return { t: 'set', ranges: this.escape(false) };
      case '(': {
        this.i++;
        if (this.p[this.i] === '?') {
          const rest = this.p.slice(this.i, this.i + 3);
          if (rest.startsWith('?:')) this.i += 2;
          else if (rest === '?<=' || rest === '?<!' || rest.startsWith('?=') || rest.startsWith('?!'))
            this.fail('lookahead and lookbehind are not supported (the filter is matched without backtracking)', at);
          else if (rest.startsWith('?<')) {
            const m = /^\?<[A-Za-z_$][\w$]*>/.exec(this.p.slice(this.i));
            if (!m) this.fail('invalid group name', at);
            this.i += m[0].length;
          } else this.fail('invalid group', at);
        }
        if (++this.depth > MAX_DEPTH) this.fail(`groups nested deeper than ${MAX_DEPTH}`, at);
        const n = this.alternation();
        this.depth--;
        if (this.p[this.i] !== ')') this.fail('unterminated group', at);
        this.i++;
        return n;
      }
      default:
        this.i++;
        return { t: 'set', ranges: [c.charCodeAt(0), c.charCodeAt(0)] };
    }
  }

  /** After a backslash; `inClass`: `\b` is a backspace there, not a word boundary. */
  private escape(inClass: boolean): Ranges {
    const at = this.i;
    this.i++; // the backslash
    const c = this.p[this.i++];
    if (c === undefined) this.fail('\\ at end of pattern', at);
    if (CLASS_ESCAPES[c]) return CLASS_ESCAPES[c];
    const one = (code: number): Ranges => [code, code];
    if (CONTROL_ESCAPES[c] !== undefined) return one(CONTROL_ESCAPES[c]);
    if (c === 'b' && inClass) return one(8);
    if (c === 'b' || c === 'B') this.fail('word boundaries (\\b, \\B) are not supported', at);
    if (c === '0' && !/[0-9]/.test(this.p[this.i] ?? '')) return one(0);
    if (/[0-9]/.test(c)) this.fail(`backreferences (\\${c}) are not supported (the filter is matched without backtracking)`, at);
    if (c === 'k') this.fail('backreferences (\\k<name>) are not supported (the filter is matched without backtracking)', at);
    if (c === 'x' || c === 'u') {
      const len = c === 'x' ? 2 : 4;
      const hex = this.p.slice(this.i, this.i + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`\\${c} needs ${len} hex digits`, at);
      this.i += len;
      return one(parseInt(hex, 16));
    }
    if (c === 'c' && /[A-Za-z]/.test(this.p[this.i] ?? '')) return one(this.p.charCodeAt(this.i++) % 32);
    // Identity escapes of punctuation (\. \* \\ \/ \- …); a letter would mean something else in
    // some dialect (\p, \a, \e): refused rather than guessed.
    if (/[A-Za-z0-9]/.test(c)) this.fail(`unknown escape \\${c}`, at);
    return one(c.charCodeAt(0));
  }

  private charClass(): Ranges {
    const at = this.i;
    this.i++; // [
    let neg = false;
    if (this.p[this.i] === '^') {
      neg = true;
      this.i++;
    }
    const r: Ranges = [];
    /** One class atom: a single code point (for ranges), or a set (\d, \w, …). */
    const item = (): { code?: number; ranges: Ranges } => {
      if (this.p[this.i] === '\\') {
        const ranges = this.escape(true);
        return ranges.length === 2 && ranges[0] === ranges[1] ? { code: ranges[0], ranges } : { ranges };
      }
      const code = this.p.charCodeAt(this.i++);
      return { code, ranges: [code, code] };
    };
    while (this.p[this.i] !== ']') {
      if (this.i >= this.p.length) this.fail('unterminated character class', at);
      const a = item();
      if (this.p[this.i] === '-' && this.p[this.i + 1] !== ']' && this.i + 1 < this.p.length) {
        const dash = this.i;
        this.i++;
        const b = item();
        if (a.code === undefined || b.code === undefined) {
          r.push(...a.ranges, 0x2d, 0x2d, ...b.ranges); // [\w-.]: a dash among the members, as JS
          continue;
        }
        if (b.code < a.code) this.fail('range out of order in character class', dash);
        r.push(a.code, b.code);
      } else r.push(...a.ranges);
    }
    this.i++; // ]
    const set = normalize(r);
    return neg ? negate(set) : set;
  }
}

// ---- the program ----

export enum Op {
  Char,
  Split,
  Jmp,
  Bol,
  Eol,
  Match,
}

/** A Thompson NFA: only character tests, splits, jumps, anchors and a match; nothing backtracks. */
export interface Program {
  op: Op[];
  /** Char: index into sets; Split: first target; Jmp/Bol/Eol: next. */
  x: number[];
  /** Char: next; Split: second target. */
  y: number[];
  sets: Ranges[];
  start: number;
}

/** Instructions `node` expands to (Infinity-safe: stops counting past the bound). */
function size(n: Node): number {
  switch (n.t) {
    case 'set':
    case 'bol':
    case 'eol':
      return 1;
    case 'cat':
      return n.items.reduce((a, x) => a + size(x), 0);
    case 'alt':
      return n.items.reduce((a, x) => a + size(x), 0) + n.items.length - 1;
    case 'rep': {
      const s = size(n.node);
      if (s > MAX_PROGRAM) return s;
      // min copies, then (max - min) optional ones (split each) or one loop (split + jmp).
      return n.min * s + (n.max === Infinity ? s + 2 : (n.max - n.min) * (s + 1));
    }
  }
}

function emit(root: Node): Program {
  const prog: Program = { op: [], x: [], y: [], sets: [], start: 0 };
  const setIds = new Map<string, number>();
  const add = (op: Op, x = -1, y = -1) => (prog.op.push(op), prog.x.push(x), prog.y.push(y), prog.op.length - 1);
  /** Emits `n` so that it continues at `next`; returns its entry. Built back to front. */
  const gen = (n: Node, next: number): number => {
    switch (n.t) {
      case 'set': {
        const key = n.ranges.join(',');
        let id = setIds.get(key);
        if (id === undefined) setIds.set(key, (id = prog.sets.push(n.ranges) - 1));
        return add(Op.Char, id, next);
      }
      case 'bol':
        return add(Op.Bol, next);
      case 'eol':
        return add(Op.Eol, next);
      case 'cat': {
        let e = next;
        for (let k = n.items.length - 1; k >= 0; k--) e = gen(n.items[k], e);
        return e;
      }
      case 'alt': {
        let e = gen(n.items[n.items.length - 1], next);
        for (let k = n.items.length - 2; k >= 0; k--) e = add(Op.Split, gen(n.items[k], next), e);
        return e;
      }
      case 'rep': {
        let e = next;
        if (n.max === Infinity) {
          const loop = add(Op.Split, -1, next);
          prog.x[loop] = gen(n.node, add(Op.Jmp, loop));
          e = loop;
        } else {
          // Optional copies, from the back: `a{0,3}` is a?a?a?, each split(a → rest, rest).
          for (let k = n.min; k < n.max; k++) {
            const rest = e;
            e = add(Op.Split, gen(n.node, rest), rest);
          }
        }
        for (let k = 0; k < n.min; k++) e = gen(n.node, e);
        return e;
      }
    }
  };
  prog.start = gen(root, add(Op.Match));
  return prog;
}

// ---- matching ----

interface DState {
  /** NFA Char/Eol instructions alive before the next character, sorted. */
  threads: Int32Array;
  matched: boolean;
  /** ASCII transitions (-1: not built yet); other characters in `more`. */
  next: Int32Array;
  more?: Map<number, number>;
  /** Whether the name may end here (an `$` reachable); undefined until asked. */
  acceptsEnd?: boolean;
}

/** Work units a new DFA state costs beyond its NFA steps (allocation, key): keeps `work` ~ time. */
const STATE_COST = 256;

/**
 * A compiled filter. `test(name)` follows every NFA thread at once, one character at a time, so
 * it takes at most (name.length + 1) × program size steps whatever the pattern; the sets of
 * threads met so far are cached as DFA states, so in practice a name costs one table lookup per
 * character.
 */
export class NameFilter implements NameTest {
  private states: DState[] = [];
  private readonly ids = new Map<string, number>();
  private initial = -1;
  private readonly ascii: Uint8Array[];
  private readonly matchPc: number;
  /** closure(): instruction → generation it was last seen in. */
  private readonly seen: Uint32Array;
  private generation = 0;
  /** Work done so far (characters read, NFA steps and states built): for callers that yield. */
  work = 0;
  /** DFA cache resets so far (a DFA-hostile pattern: still linear, slower per character). */
  resets = 0;

  constructor(
    readonly source: string,
    readonly program: Program,
  ) {
    this.matchPc = program.op.indexOf(Op.Match);
    this.seen = new Uint32Array(program.op.length);
    // Per set, a membership table for ASCII (kernel names are ASCII): one lookup per test.
    this.ascii = program.sets.map((r) => {
      const t = new Uint8Array(128);
      for (let i = 0; i < r.length; i += 2) for (let c = r[i]; c <= Math.min(r[i + 1], 127); c++) t[c] = 1;
      return t;
    });
  }

  private inSet(set: number, c: number): boolean {
    if (c < 128) return this.ascii[set][c] === 1;
    const r = this.program.sets[set];
    for (let i = 0; i < r.length; i += 2) if (c >= r[i] && c <= r[i + 1]) return true;
    return false;
  }

  /** Epsilon closure of `from`: the Char/Eol/Match instructions reached, sorted; `^` passes only
   *  at the start, `$` only at the end. */
  private closure(from: ArrayLike<number>, atStart: boolean, atEnd: boolean): Int32Array {
    const { op, x, y } = this.program;
    const gen = ++this.generation;
    const stack = Array.from(from);
    const out: number[] = [];
    while (stack.length) {
      const pc = stack.pop()!;
      if (this.seen[pc] === gen) continue;
      this.seen[pc] = gen;
      this.work++;
      switch (op[pc]) {
        case Op.Split:
          stack.push(y[pc], x[pc]);
          break;
        case Op.Jmp:
          stack.push(x[pc]);
          break;
        case Op.Bol:
          if (atStart) stack.push(x[pc]);
          break;
        case Op.Eol:
          if (atEnd) stack.push(x[pc]);
          else out.push(pc);
          break;
        default:
          out.push(pc);
      }
    }
    return Int32Array.from(out).sort();
  }

  private intern(threads: Int32Array, tag: string): number {
    const key = tag + threads.join(',');
    const id = this.ids.get(key);
    if (id !== undefined) return id;
    this.work += STATE_COST;
    const matched = threads.includes(this.matchPc);
    this.states.push({ threads, matched, next: new Int32Array(128).fill(-1) });
    this.ids.set(key, this.states.length - 1);
    return this.states.length - 1;
  }

  private start(): number {
    // Tagged: the same threads later on are another state, `^` passed here only.
    if (this.initial < 0) this.initial = this.intern(this.closure([this.program.start], true, false), 'S');
    return this.initial;
  }

  /** The state after reading `c` in state `id` (a new match may start at every position). */
  private step(id: number, c: number): number {
    let st = this.states[id];
    const known = c < 128 ? st.next[c] : (st.more?.get(c) ?? -1);
    if (known >= 0) return known;
    if (this.states.length >= MAX_DFA_STATES) {
      // Bounded memory: start over, keeping only the current state.
      const tag = id === this.initial ? 'S' : '';
      this.states = [];
      this.ids.clear();
      this.initial = -1;
      this.resets++;
      id = this.intern(st.threads, tag);
      if (tag) this.initial = id;
      st = this.states[id];
    }
    const { op, x, y } = this.program;
    const moved: number[] = [];
    for (const pc of st.threads) {
      this.work++;
      if (op[pc] === Op.Char && this.inSet(x[pc], c)) moved.push(y[pc]);
    }
    moved.push(this.program.start);
    const next = this.intern(this.closure(moved, false, false), '');
    if (c < 128) st.next[c] = next;
    else (st.more ??= new Map()).set(c, next);
    return next;
  }

  private acceptsEnd(id: number, atStart: boolean): boolean {
    const st = this.states[id];
    st.acceptsEnd ??= this.closure(st.threads, atStart, true).includes(this.matchPc);
    return st.acceptsEnd;
  }

  test(name: string): boolean {
    let id = this.start();
    let st = this.states[id];
    if (st.matched) return true;
    this.work += name.length;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      const known = c < 128 ? st.next[c] : -1;
      id = known >= 0 ? known : this.step(id, c);
      st = this.states[id];
      if (st.matched) return true;
      // Nothing alive and nothing can start (every branch begins with ^): no later match.
      if (st.threads.length === 0) return false;
    }
    return this.acceptsEnd(id, name.length === 0);
  }
}

/** Parses and compiles a filter; NameFilterError names what is refused and where. */
export function compileNameFilter(pattern: string): NameFilter {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new NameFilterError(pattern, MAX_PATTERN_LENGTH, `pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  const ast = new Parser(pattern).parse();
  const n = size(ast) + 1;
  if (n > MAX_PROGRAM)
    throw new NameFilterError(
      pattern,
      0,
      `pattern too large: ${n > 1e9 ? 'over a billion' : n} instructions once counts are expanded (at most ${MAX_PROGRAM})`,
    );
  return new NameFilter(pattern, emit(ast));
}

/** The message of a pattern's refusal without the pattern itself (for field-level errors), or undefined. */
export function nameFilterProblem(pattern: string): string | undefined {
  try {
    compileNameFilter(pattern);
    return undefined;
  } catch (e) {
    if (e instanceof NameFilterError) return `${e.reason} (at position ${e.index})`;
    throw e;
  }
}

export interface MatchNamesOptions {
  /** Yield to the event loop after this much `work` (default 50,000: 1-3 ms of CPU)… */
  quantum?: number;
  /** …or after this many milliseconds, whichever comes first (default 4). */
  sliceMs?: number;
  signal?: AbortSignal;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The names `filter` matches, computed in slices with the event loop free in between (timers,
 * HTTP, queue lock renewals run); planning and backend selection then look the answers up.
 * Throws the signal's reason when aborted.
 */
export async function matchNames(filter: NameFilter, names: Iterable<string>, opts: MatchNamesOptions = {}): Promise<Set<string>> {
  const quantum = opts.quantum ?? 50_000;
  const sliceMs = opts.sliceMs ?? 4;
  const out = new Set<string>();
  let until = filter.work + quantum;
  let deadline = performance.now() + sliceMs;
  let k = 0;
  for (const n of names) {
    if (filter.test(n)) out.add(n);
    if (filter.work >= until || ((++k & 15) === 0 && performance.now() >= deadline)) {
      await yieldToLoop();
      opts.signal?.throwIfAborted();
      until = filter.work + quantum;
      deadline = performance.now() + sliceMs;
    }
  }
  return out;
}

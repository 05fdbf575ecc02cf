// Man pages (roff, man macros) generated from the commands' own --help output, so the page says
// what the program says. The help texts follow a few conventions, which are all this relies on:
//   "Usage: PROG ..." first (continuation lines indented)    → SYNOPSIS
//   a line ending in ":" at column 0, indented lines after   → a subsection with a list
//   "  TERM   description" (continued further right)         → .TP items
//   other lines at column 0                                   → paragraphs
//   blocks headed "Environment:" / "Exit status:"            → those standard sections

export interface ManPageInput {
  program: string;
  section: number;
  /** The NAME line's description. */
  summary: string;
  /** Footer, e.g. "srv6-agent 0.1.0". */
  source: string;
  /** YYYY-MM-DD. */
  date: string;
  /** `PROG --help`. */
  help: string;
  /** Paragraph(s) before the help's own description. */
  intro?: string;
  /** `PROG COMMAND --help` for each command: a COMMANDS section. */
  commands?: { name: string; help: string }[];
  /** FILES: path → what it is. */
  files?: [string, string][];
  seeAlso?: string[];
}

const SECTION_OF: Record<string, string> = { 'Environment:': 'ENVIRONMENT', 'Exit status:': 'EXIT STATUS' };

/** roff-safe text: backslashes, option dashes, non-ASCII, and control characters at line starts. */
export function escape(text: string): string {
  const s = text
    .replace(/\\/g, '\\e')
    .replace(/(^|[^\w-])(-{1,2})(?=[A-Za-z0-9$])/g, (_m, pre: string, dashes: string) => `${pre}${'\\-'.repeat(dashes.length)}`)
    .replace(/[^\x20-\x7e\n]/g, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return s.replace(/^([.'])/gm, '\\&$1');
}

/** An item's term: options bold, metavariables (FILE, SECONDS) italic. */
function term(t: string): string {
  return t
    .split(/(\s+|[|[\]])/)
    .map((w) => {
      if (/^-/.test(w)) {
        const m = /^(.*?)(,?)$/.exec(w)!;
        return `\\fB${escape(m[1]!)}\\fR${m[2]}`;
      }
      if (/^[A-Z][A-Z0-9_]*$/.test(w) && w.length > 1) return `\\fI${escape(w)}\\fR`;
      return escape(w);
    })
    .join('');
}

function indentOf(line: string): number {
  return /^ */.exec(line)![0].length;
}

interface Item {
  term: string;
  text: string[];
}

/**
 * Splits the indented lines of a list into items. The description column is the one most items
 * use (after a run of two spaces), so "--duration SECONDS stop…", one space short, still splits.
 */
export function parseItems(lines: string[]): Item[] {
  const starts = lines.filter((l) => indentOf(l) <= 6);
  const columns = new Map<number, number>();
  for (const l of starts) {
    const m = /^ *\S.*?( {2,})\S/.exec(l);
    if (m) columns.set(m[0].length - 1, (columns.get(m[0].length - 1) ?? 0) + 1);
  }
  const column = [...columns.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
  const items: Item[] = [];
  for (const l of lines) {
    if (indentOf(l) > 6 && items.length) {
      items[items.length - 1]!.text.push(l.trim());
      continue;
    }
    let t = l.trim();
    let d = '';
    const m = /^(\S.*?) {2,}(\S.*)$/.exec(t);
    if (column !== undefined && l.length > column && l[column - 1] === ' ' && l[column] !== ' ' && l.slice(0, column).trim()) {
      t = l.slice(0, column).trim();
      d = l.slice(column).trim();
    } else if (m) {
      t = m[1]!;
      d = m[2]!;
    }
    items.push({ term: t, text: d ? [d] : [] });
  }
  return items;
}

function items(lines: string[]): string[] {
  return parseItems(lines).flatMap((i) => ['.TP', term(i.term), ...(i.text.length ? [escape(i.text.join(' '))] : [])]);
}

function preformatted(lines: string[]): string[] {
  return ['.PP', '.RS', '.nf', ...lines.map((l) => escape(l.replace(/^ {2}/, ''))), '.fi', '.RE'];
}

type Block = string[];

function blocks(text: string): Block[] {
  return text
    .replace(/\s+$/, '')
    .split(/\n[ \t]*\n/)
    .map((b) => b.split('\n'))
    .filter((b) => b.some((l) => l.trim()));
}

/** The Usage block as a synopsis: the program's name bold, lines as they are. */
function synopsis(block: Block, program: string): string[] {
  const lines = block.map((l, i) => (i === 0 ? l.replace(/^Usage: /, '') : l.replace(/^ {7}/, '')));
  const name = escape(program);
  const bold = (l: string) => {
    const e = escape(l);
    const lead = /^\s*/.exec(e)![0];
    return e.startsWith(name, lead.length) ? `${lead}\\fB${name}\\fR${e.slice(lead.length + name.length)}` : e;
  };
  return ['.nf', ...lines.map(bold), '.fi'];
}

/** One block of help text as roff; `heading` renders a block's own heading line. */
function body(block: Block, heading: (h: string) => string[]): string[] {
  const out: string[] = [];
  let i = 0;
  const first = block[0]!;
  if (indentOf(first) === 0 && first.endsWith(':') && block.length > 1 && indentOf(block[1]!) > 0) {
    out.push(...heading(first));
    i = 1;
    if (/^Examples?:$/.test(first)) return [...out, ...preformatted(block.slice(1))];
  }
  while (i < block.length) {
    if (indentOf(block[i]!) === 0) {
      const para: string[] = [];
      while (i < block.length && indentOf(block[i]!) === 0) para.push(block[i++]!);
      out.push('.PP', escape(para.join('\n')));
    } else {
      const list: string[] = [];
      while (i < block.length && indentOf(block[i]!) > 0) list.push(block[i++]!);
      out.push(...items(list));
    }
  }
  return out;
}

const subsection = (h: string) => [`.SS "${escape(h.replace(/:$/, '')).replace(/"/g, '\\(dq')}"`];
const boldLine = (h: string) => ['.PP', `\\fB${escape(h)}\\fR`];

export function manPage(p: ManPageInput): string {
  const [usage, ...rest] = blocks(p.help);
  if (!usage || !usage[0]!.startsWith('Usage: ')) throw new Error(`${p.program} --help does not start with "Usage: "`);
  const out = [
    `.\\" Generated from ${p.program} --help (src/cli/man-page.ts); do not edit.`,
    `.TH ${p.program.toUpperCase()} ${p.section} ${p.date} "${p.source}" "System Administration"`,
    // Left-aligned, no hyphenation: paths and option names stay whole.
    '.ad l',
    '.nh',
    '.SH NAME',
    `${escape(p.program)} \\- ${escape(p.summary)}`,
    '.SH SYNOPSIS',
    ...synopsis(usage, p.program),
    '.SH DESCRIPTION',
  ];
  if (p.intro) out.push('.PP', escape(p.intro));
  const special: string[] = [];
  const topBlocks = new Set(rest.map((b) => b.join('\n')));
  for (const b of rest) {
    const section = SECTION_OF[b[0]!];
    if (section) special.push(`.SH ${section}`, ...items(b.slice(1)));
    else out.push(...body(b, subsection));
  }
  if (p.commands?.length) {
    out.push('.SH COMMANDS');
    for (const c of p.commands) {
      const [cu, ...cb] = blocks(c.help);
      out.push(`.SS ${escape(c.name)}`);
      if (cu?.[0]?.startsWith('Usage: ')) out.push(...synopsis(cu, p.program));
      else if (cu) cb.unshift(cu);
      // What the overview already says (the exit statuses) is not repeated per command.
      for (const b of cb) if (!topBlocks.has(b.join('\n'))) out.push(...body(b, boldLine));
    }
  }
  out.push(...special);
  if (p.files?.length) out.push('.SH FILES', ...p.files.flatMap(([f, what]) => ['.TP', `\\fI${escape(f)}\\fR`, escape(what)]));
  if (p.seeAlso?.length) out.push('.SH SEE ALSO', p.seeAlso.map((s) => escape(s).replace(/^([^(]+)\(/, '\\fB$1\\fR(')).join(',\n'));
  return `${out.join('\n')}\n`;
}

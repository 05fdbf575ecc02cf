// Man pages from --help text: roff escaping, the option lists, and the sections each help block
// becomes. (groff renders the packaged pages without warnings: src/cli/package.kernel.ts.)
import { USAGE as IPFT_USAGE, IPFT_OPTIONS } from '../trace/ipft-args';
import { COMMAND_HELP, COMMAND_OPTIONS, EXIT, helpText, USAGE } from './cli-args';
import { escape, manPage, parseItems } from './man-page';

const base = { section: 8, summary: 'a summary', source: 'x 1.0', date: '2026-01-02' };

const srv6Page = () =>
  manPage({
    ...base,
    program: 'srv6-agent',
    help: USAGE,
    commands: Object.keys(COMMAND_HELP).map((c) => ({ name: c, help: helpText(c as keyof typeof COMMAND_HELP) })),
    files: [['/etc/srv6-agent/config.json', 'the configuration']],
    seeAlso: ['ipft(8)'],
  });

describe('escape', () => {
  it('option dashes become minus signs, hyphens inside words stay', () => {
    expect(escape('--log-level or -j, see (--url) and [-b X]')).toBe('\\-\\-log-level or \\-j, see (\\-\\-url) and [\\-b X]');
    expect(escape('skb->mark, per-command')).toBe('skb->mark, per-command');
  });

  it('backslashes, lines starting with a control character, non-ASCII', () => {
    expect(escape('a \\b regex')).toBe('a \\eb regex');
    expect(escape(".dot\n'quote")).toBe("\\&.dot\n\\&'quote");
    expect(escape('… →')).toBe('\\[u2026] \\[u2192]');
  });
});

describe('parseItems', () => {
  it('splits term and description at the column most items use, even with one space before it', () => {
    const items = parseItems([
      '  -m, --mark MARK        skb mark to trace',
      '      --duration SECONDS stop after this long',
      '                         (continued)',
      '  -h, --help',
    ]);
    expect(items).toEqual([
      { term: '-m, --mark MARK', text: ['skb mark to trace'] },
      { term: '--duration SECONDS', text: ['stop after this long', '(continued)'] },
      { term: '-h, --help', text: [] },
    ]);
  });
});

describe('manPage', () => {
  it('srv6-agent(8): the standard sections, each command a subsection', () => {
    const page = srv6Page();
    const sections = page
      .split('\n')
      .filter((l) => l.startsWith('.SH '))
      .map((l) => l.slice(4));
    expect(sections).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'ENVIRONMENT', 'EXIT STATUS', 'FILES', 'SEE ALSO']);
    expect(page).toMatch(/^\.TH SRV6-AGENT 8 2026-01-02 "x 1\.0" "System Administration"$/m);
    for (const c of Object.keys(COMMAND_HELP)) expect(page).toContain(`\n.SS ${c}\n.nf\n\\fBsrv6-agent\\fR ${c}`);
  });

  it('every option of every command is an item of the page', () => {
    const page = srv6Page();
    for (const options of Object.values(COMMAND_OPTIONS))
      for (const name of Object.keys(options)) expect(page).toMatch(new RegExp(`^\\.TP\\n.*\\\\fB${escape(`--${name}`).replace(/\\/g, '\\\\')}\\\\fR`, 'm'));
  });

  it('the exit statuses once, not again under each command', () => {
    const page = srv6Page();
    for (const code of Object.values(EXIT)) expect(page.split(`\n.TP\n${code}\n`)).toHaveLength(2);
  });

  it('ipft(8): the option groups as subsections, every option an item', () => {
    const page = manPage({ ...base, program: 'ipft', help: IPFT_USAGE });
    expect(page).toContain('.SS "Marks, filters"');
    expect(page).toContain('.SS "Tracing"');
    for (const name of Object.keys(IPFT_OPTIONS)) expect(page).toContain(`\\fB${escape(`--${name}`)}\\fR`);
    expect(page).toContain('\\fB\\-\\-duration\\fR \\fISECONDS\\fR\nstop after this long');
  });

  it('refuses help that does not start with its usage', () => {
    expect(() => manPage({ ...base, program: 'x', help: 'x does things' })).toThrow('x --help does not start with "Usage: "');
  });
});

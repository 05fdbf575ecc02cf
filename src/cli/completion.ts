// Bash completion for srv6-agent and ipft, generated from the option tables their parsers use
// (cli-args.ts, ipft-args.ts): an option added there is offered here without anyone copying it.
// The scripts need nothing but bash (no bash-completion helpers), so a test can run them.
import { COMMAND_ARGUMENT, COMMAND_OPTIONS, COMMANDS, COMMON_OPTIONS, OPTION_VALUES, TOP_OPTIONS, ValueHint } from './cli-args';
import { IPFT_OPTION_VALUES, IPFT_OPTIONS } from '../trace/ipft-args';

type Option = { type: 'string' | 'boolean'; short?: string };
type Options = Record<string, Option>;

/** "-j --json" of one option. */
function flagsOf(name: string, o: Option): string[] {
  return [...(o.short ? [`-${o.short}`] : []), `--${name}`];
}

function allFlags(options: Options): string {
  return Object.entries(options)
    .flatMap(([n, o]) => flagsOf(n, o))
    .join(' ');
}

/** Bash single-quoted word. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that fills COMPREPLY for a value of the kind `hint`; none for a free value. */
function complete(hint: ValueHint | undefined): string | undefined {
  if (hint === 'file') return '_srv6_complete_files "$cur"';
  if (hint === 'dir') return '_srv6_complete_files "$cur" -d';
  if (hint) return `_srv6_complete_words ${sq(hint.join(' '))} "$cur"`;
  return undefined;
}

/** `case $prev in` for the options that take a value: what to offer after each (nothing: free text). */
function valueCase(options: Options, hints: Record<string, ValueHint | undefined>, indent: string): string[] {
  const arms = Object.entries(options)
    .filter(([, o]) => o.type === 'string')
    .map(([n, o]) => `${indent}  ${flagsOf(n, o).join('|')}) ${[complete(hints[n]), 'return'].filter(Boolean).join('; ')} ;;`);
  return arms.length ? [`${indent}case $prev in`, ...arms, `${indent}esac`] : [];
}

const HELPERS = `_srv6_complete_words() { # WORDS CUR
  local w
  COMPREPLY=()
  for w in $1; do [[ $w == "$2"* ]] && COMPREPLY+=("$w"); done
}
_srv6_complete_files() { # CUR [-d]
  local IFS=$'\\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen "\${2:--f}" -- "$1"))
}
# cur, and prev the word before it; "--opt=val" arrives as "--opt" "=" "val" (COMP_WORDBREAKS).
_srv6_complete_init() {
  cur=\${COMP_WORDS[COMP_CWORD]}
  prev=\${COMP_WORDS[COMP_CWORD-1]}
  if [[ $cur == = ]]; then
    cur=
  elif [[ $prev == = ]]; then
    prev=\${COMP_WORDS[COMP_CWORD-2]}
  fi
}`;

function header(program: string, source: string): string {
  return `# bash completion for ${program}: generated from ${source} (src/cli/completion.ts); do not edit.\n`;
}

/** /usr/share/bash-completion/completions/srv6-agent */
export function srv6AgentCompletion(): string {
  const commands = COMMANDS.join(' ');
  const arms: string[] = [];
  for (const cmd of COMMANDS) {
    const options: Options = { ...(cmd === 'help' ? {} : COMMAND_OPTIONS[cmd]), ...COMMON_OPTIONS };
    const argument = complete(COMMAND_ARGUMENT[cmd]);
    arms.push(
      `    ${cmd})`,
      ...valueCase(options, OPTION_VALUES, '      '),
      `      if [[ $cur == -* ]]; then _srv6_complete_words ${sq(allFlags(options))} "$cur"; return; fi`,
      ...(argument ? [`      ${argument}`] : []),
      '      ;;',
    );
  }
  return `${header('srv6-agent', 'src/cli/cli-args.ts')}${HELPERS}
_srv6_agent() {
  local cur prev
  _srv6_complete_init
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    _srv6_complete_words ${sq(`${commands} ${allFlags(TOP_OPTIONS)}`)} "$cur"
    return
  fi
  case \${COMP_WORDS[1]} in
    -V|--version|-j|--json) _srv6_complete_words ${sq(allFlags({ version: TOP_OPTIONS.version, json: TOP_OPTIONS.json }))} "$cur" ;;
${arms.join('\n')}
  esac
}
complete -F _srv6_agent srv6-agent
`;
}

/** /usr/share/bash-completion/completions/ipft */
export function ipftCompletion(): string {
  const options: Options = IPFT_OPTIONS;
  return `${header('ipft', 'src/trace/ipft-args.ts')}${HELPERS}
_ipft() {
  local cur prev
  _srv6_complete_init
  COMPREPLY=()
${valueCase(options, IPFT_OPTION_VALUES, '  ').join('\n')}
  _srv6_complete_words ${sq(allFlags(options))} "$cur"
}
complete -F _ipft ipft
`;
}

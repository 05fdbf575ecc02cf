// A CliIo for tests of main(argv): no stdin, not a terminal, and what the command wrote kept.
import type { CliIo } from '../cli/commands';

export function recordingIo(): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    readStdin: async () => '',
    errIsTTY: false,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

// What `srv6-agent --version` and `ipft --version` print (and `srv6_agent_build_info` exports):
// the package's version and, when the build knew it, the git commit. The commit is written at build time (scripts/build-info.sh →
// dist/build-info.json): a packaged agent has no git and must not run it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../native/addon';

export interface BuildInfo {
  version: string;
  /** Short commit hash, "-dirty" appended when the tree had uncommitted changes; unknown: absent. */
  commit?: string;
}

/** Where the build writes BuildInfo, relative to the package root. */
export const BUILD_INFO_FILE = join('dist', 'build-info.json');

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** dist/build-info.json, else package.json's version without a commit (a build without git). */
export function readBuildInfo(root: string = packageRoot()): BuildInfo {
  const built = readJson(join(root, BUILD_INFO_FILE));
  const version = typeof built?.version === 'string' ? built.version : readJson(join(root, 'package.json'))?.version;
  const out: BuildInfo = { version: typeof version === 'string' ? version : 'unknown' };
  if (typeof built?.commit === 'string' && built.commit) out.commit = built.commit;
  return out;
}

/** "srv6-agent 0.1.0 (commit 1a2b3c4d5e6f)", or with `json` one JSON object; newline-terminated. */
export function versionText(program: string, info: BuildInfo, json: boolean, node: string = process.version): string {
  if (json) return `${JSON.stringify({ program, version: info.version, commit: info.commit ?? null, node })}\n`;
  return `${program} ${info.version}${info.commit ? ` (commit ${info.commit})` : ''}\n`;
}

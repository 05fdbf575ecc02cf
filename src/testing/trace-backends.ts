// Which tracing backends the running kernel offers, for tests that must skip by name where a
// kernel lacks one ("… [skipped: kernel lacks fentry]", the form netns-tests/lab/check-skips.js
// checks against the lab kernel's config). The answer comes from the real thing: the compiled
// `ipft --check-backends` loads and attaches each backend's probe program. Synchronous (jest
// decides skips while collecting tests), one child process per test file.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../native/addon';
import { itUnlessMissing, KernelFeature, kernelLacks } from './kernel-features';
import type { Backend, BackendCheck } from '../trace/backend';

let cached: BackendCheck[] | undefined;

export function backendChecks(): BackendCheck[] {
  if (cached) return cached;
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'ipft.js');
  if (!existsSync(cli)) throw new Error(`${cli} missing: build first (npm run build)`);
  const r = spawnSync(process.execPath, [cli, '--check-backends', '-o', 'json'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ipft --check-backends failed (${r.status ?? r.signal}): ${r.stderr}`);
  cached = JSON.parse(r.stdout) as BackendCheck[];
  return cached;
}

export function backendWorks(b: Backend): boolean {
  return backendChecks().some((c) => c.backend === b && c.ok);
}

/** `it` when the backend works here (and the kernel has `features`), else a skip naming what is missing. */
export function itWithBackend(b: Backend, ...features: KernelFeature[]): jest.It {
  return itUnlessMissing([...(backendWorks(b) ? [] : [b]), ...kernelLacks(features)]);
}

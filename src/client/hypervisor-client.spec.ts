// The client's jobs are typed: a discriminated union on `type` (job-types.ts). The @ts-expect-error
// lines below must be errors: tsc (npm run typecheck) fails on an unused one, and the test at the
// end compiles this file, since ts-jest here only transpiles.
import { join } from 'node:path';
import ts from 'typescript';
import type { HypervisorClient, HypervisorJobView, Job, JobResult, RoutesJob } from './hypervisor-client';

const NODE = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };

// Never called: what matters is whether it compiles.
export async function typed(client: HypervisorClient): Promise<void> {
  const ok: JobResult = await client.submit({ type: 'upsert-node', node: NODE });
  const list: JobResult[] = await client.submitAll([
    { type: 'upsert-tenant', tenant: { id: 'alpha', behaviour: 'End.DT6', interfaces: [], routes: [] } },
    { type: 'routes', tenant: 'alpha', add: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'], mode: 'encap.red' }] },
    { type: 'delete-tenant', tenant: 'alpha', idempotencyKey: 'k1' },
    { type: 'resync' },
  ]);
  const id: string = await client.enqueue({ type: 'resync', reason: 'typed' });
  const view: HypervisorJobView | undefined = await client.status(id);
  if (view?.type === 'routes') {
    const operations: number | undefined = view.result?.operations;
    void operations;
  }
  void [ok.jobId, ok.type, list];

  // @ts-expect-error not a job type
  await client.submit({ type: 'upsert-nodes', node: NODE });
  // @ts-expect-error an upsert-node job needs its node
  await client.submit({ type: 'upsert-node' });
  // @ts-expect-error a node without its locator
  await client.submit({ type: 'upsert-node', node: { underlay: ['ul0'], encapSource: 'fc00:0:1::1', underlayMtu: 1500 } });
  // @ts-expect-error the tenant of a delete-tenant job is its id, not a spec
  await client.enqueue({ type: 'delete-tenant', tenant: { id: 'alpha' } });
  // @ts-expect-error not a behaviour
  await client.submit({ type: 'upsert-tenant', tenant: { id: 'a', behaviour: 'End.DT5', interfaces: [], routes: [] } });
  // @ts-expect-error not an encapsulation mode
  const route: RoutesJob = { type: 'routes', tenant: 'alpha', set: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'], mode: 'inline' }] };
  // @ts-expect-error a field of another job type (excess property of the routes job)
  await client.submitAll([route, { type: 'routes', tenant: 'alpha', node: NODE }]);
  // @ts-expect-error a plain object is not a job
  await client.submit({} as object);
  const widened = { type: 'resync' as string };
  // @ts-expect-error `type` must be a job type, not any string
  const job: Job = widened;
  void job;
}

it('compiles, with every @ts-expect-error above an error', () => {
  const file = join(__dirname, 'hypervisor-client.spec.ts');
  const root = join(__dirname, '..', '..');
  const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const program = ts.createProgram([file], { ...options, noEmit: true, incremental: false });
  const problems = ts
    .getPreEmitDiagnostics(program, program.getSourceFile(file))
    .map(
      (d) => `${d.start === undefined ? '' : d.file!.getLineAndCharacterOfPosition(d.start).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
  expect(problems).toEqual([]);
}, 120_000);

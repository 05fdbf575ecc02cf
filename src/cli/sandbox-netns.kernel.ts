// Kernel tier: `serve --sandbox`'s namespace, made under a test name so the real srv6-sandbox is
// never touched. Observed with iproute2.
//
//   netns srv6t-sbx-<pid>-<rnd>:  sbx-uplink (fc00:0:ffff::1/64) <══ veth ══> sbx-peer
//                                 sbx-tap0 <══ veth ══> sbx-vm0
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { ensureSandbox, SANDBOX, SandboxSpec } from './sandbox-netns';

const spec: SandboxSpec = { ...SANDBOX, netns: `srv6t-sbx-${process.pid}-${randomBytes(3).toString('hex')}` };
const ip = <T>(args: string[]): T => JSON.parse(execFileSync('ip', ['-j', '-n', spec.netns, ...args], { encoding: 'utf8' }) || '[]');

afterAll(() => {
  try {
    execFileSync('ip', ['netns', 'del', spec.netns], { stdio: 'ignore' });
  } catch {
    /* never created */
  }
});

describe('ensureSandbox', () => {
  it('creates the namespace, the veth pair (up) and the underlay address', async () => {
    const done = await ensureSandbox(spec);
    expect(done).toEqual(
      expect.arrayContaining([
        `created netns ${spec.netns}`,
        'created veth sbx-uplink/sbx-peer',
        'created veth sbx-tap0/sbx-vm0',
        'added fc00:0:ffff::1/64 to sbx-uplink',
      ]),
    );
    const links = ip<Array<{ ifname: string; flags: string[]; linkinfo?: { info_kind: string } }>>(['-d', 'link', 'show']);
    for (const name of ['lo', 'sbx-uplink', 'sbx-peer', 'sbx-tap0', 'sbx-vm0']) expect(links.find((l) => l.ifname === name)?.flags).toContain('UP');
    expect(links.find((l) => l.ifname === 'sbx-uplink')?.linkinfo?.info_kind).toBe('veth');
    const [addr] = ip<Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string }> }>>(['addr', 'show', 'dev', 'sbx-uplink']);
    expect(addr!.addr_info).toEqual(expect.arrayContaining([expect.objectContaining({ family: 'inet6', local: 'fc00:0:ffff::1', prefixlen: 64 })]));
  });

  it('reuses a complete sandbox without changing anything', async () => {
    expect(await ensureSandbox(spec)).toEqual([]);
  });

  it('repairs what is missing', async () => {
    execFileSync('ip', ['-n', spec.netns, 'link', 'set', 'sbx-peer', 'down']);
    execFileSync('ip', ['-n', spec.netns, 'link', 'del', 'sbx-tap0']);
    execFileSync('ip', ['-n', spec.netns, 'addr', 'del', 'fc00:0:ffff::1/64', 'dev', 'sbx-uplink']);
    expect(await ensureSandbox(spec)).toEqual([
      'set sbx-peer up',
      'created veth sbx-tap0/sbx-vm0',
      'set sbx-vm0 up',
      'set sbx-tap0 up',
      'added fc00:0:ffff::1/64 to sbx-uplink',
    ]);
  });

  it('refuses a namespace where the uplink is not a veth', async () => {
    await expect(ensureSandbox({ ...spec, uplink: 'lo' })).rejects.toThrow(/lo exists but is a device of unknown kind, not a veth/);
  });
});

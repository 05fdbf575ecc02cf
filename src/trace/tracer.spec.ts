// The kernel view cache of long-lived tracers (the agent): BTF is read again only when the set of
// loaded modules changes.
import { kernelViewCache, KernelView, moduleSignature } from './tracer';

const PROC = (vethUse: number, extra = '') => `veth 40960 ${vethUse} - Live 0x0000000000000000\nseg6_iptunnel 16384 0 - Live 0x0000000000000000\n${extra}`;

describe('kernelViewCache', () => {
  it('ignores use counts, sees modules loaded and unloaded', () => {
    expect(moduleSignature(PROC(0))).toBe(moduleSignature(PROC(7)));
    expect(moduleSignature(PROC(0))).not.toBe(moduleSignature(PROC(0, 'vrf 36864 0 - Live 0x0\n')));
  });

  it('reads the kernel again only when the modules change', () => {
    let reads = 0;
    let procModules = PROC(0);
    const view = kernelViewCache(
      () => ({ n: ++reads }) as unknown as KernelView,
      () => procModules,
    );
    const a = view();
    procModules = PROC(3); // a veth was made: same targets
    expect(view()).toBe(a);
    procModules = PROC(3, 'vrf 36864 0 - Live 0x0\n');
    expect(view()).not.toBe(a);
    expect(reads).toBe(2);
  });

  it('reads every time when /proc/modules cannot be read', () => {
    let reads = 0;
    const view = kernelViewCache(
      () => ({ n: ++reads }) as unknown as KernelView,
      () => undefined,
    );
    view();
    view();
    expect(reads).toBe(2);
  });
});

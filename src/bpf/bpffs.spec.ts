// Which mount holds a path: the longest mount point above it, as /proc/self/mounts lists them.
import { mountOf } from './bpffs';

const MOUNTS = ['sysfs /sys sysfs rw 0 0', 'bpf /sys/fs/bpf bpf rw 0 0', 'tmpfs /sys/fs/bpfx tmpfs rw 0 0', 'tmpfs /run tmpfs rw 0 0', ''].join('\n');

describe('mountOf', () => {
  it.each([
    ['/sys/fs/bpf', 'bpf'],
    ['/sys/fs/bpf/srv6-agent/host', 'bpf'],
    ['/sys/fs/bpfx/pins', 'tmpfs'], // a sibling whose name starts the same is not under /sys/fs/bpf
    ['/sys/fs', 'sysfs'],
  ])('%s is on %s', (path, type) => {
    expect(mountOf(path, MOUNTS)?.type).toBe(type);
  });

  it('a host without bpffs: /sys/fs/bpf is on sysfs', () => {
    expect(mountOf('/sys/fs/bpf', 'sysfs /sys sysfs rw 0 0\n')).toEqual({ point: '/sys', type: 'sysfs' });
  });
});

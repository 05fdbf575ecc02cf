import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { HealthCheck } from './health-check';

/** bpffs is mounted at /sys/fs/bpf: pinned XDP links live there across agent restarts. */
@Injectable()
export class BpffsHealthCheck implements HealthCheck {
  readonly name = 'bpffs';

  async check(): Promise<void> {
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    if (!mounts.some(([, where, type]) => where === '/sys/fs/bpf' && type === 'bpf')) throw new Error('bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)');
  }
}

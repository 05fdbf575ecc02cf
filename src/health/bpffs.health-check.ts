import { Injectable } from '@nestjs/common';
import { BPFFS, onBpffs } from '../bpf/bpffs';
import { HealthCheck } from './health-check';

/** bpffs is mounted at /sys/fs/bpf: pinned XDP links live there across agent restarts. */
@Injectable()
export class BpffsHealthCheck implements HealthCheck {
  readonly name = 'bpffs';

  async check(): Promise<void> {
    if (!onBpffs(BPFFS)) throw new Error(`bpffs is not mounted at ${BPFFS} (mount -t bpf bpf ${BPFFS})`);
  }
}

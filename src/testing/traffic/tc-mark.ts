// The trace mark for the tracer's kernel tests, benchmark and the end-to-end GSO trace: a tc
// program (bpf/trace/test_mark.bpf.c) that gives every IPv4 and IPv6 packet 0xdeadbeef (the host
// kernel has no act_skbedit).
import { join } from 'node:path';

import { packageRoot } from '../../native/addon';
import type { TestNetns } from '../netns';

export const TEST_MARK = 0xdeadbeef;

/** Marks every IP packet leaving (egress) or arriving on (ingress) `dev` with TEST_MARK. */
export function tcMark(ns: TestNetns, dev: string, dir: 'ingress' | 'egress'): void {
  const obj = join(packageRoot(), 'bpf', 'build', 'trace', 'test_mark.bpf.o');
  try {
    ns.exec('tc', ['qdisc', 'add', 'dev', dev, 'clsact']);
  } catch {
    /* already there (the other direction) */
  }
  ns.exec('tc', ['filter', 'add', 'dev', dev, dir, 'bpf', 'da', 'obj', obj, 'sec', 'tc']);
}

// Traffic and marking for the tracer's kernel tests and benchmark: TCP transfers between test
// namespaces (Node in `ip netns exec`, the bytes the server received are the independent
// observer) and the tc program that sets the trace mark (bpf/trace/test_mark.bpf.c: every IPv4
// and IPv6 packet gets 0xdeadbeef; the host kernel has no act_skbedit).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { packageRoot } from '../../native/addon';
import { TestNetns } from '../../testing/netns';

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

export function nodeIn(ns: TestNetns, script: string): { proc: ReturnType<typeof spawn>; out: Promise<string> } {
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const done = new Promise<string>((resolve, reject) =>
    proc.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`node in ${ns.name} exited ${code}: ${err.trim()}`)))),
  );
  return { proc, out: done };
}

/**
 * Sends `bytes` over one TCP connection from `client` to `server`'s addr:port and resolves with
 * what the server received.
 */
export async function tcpTransferBetween(client: TestNetns, server: TestNetns, addr: string, port: number, bytes: number, timeoutMs = 60_000): Promise<number> {
  const srv = nodeIn(
    server,
    `const net=require('net');let n=0;const s=net.createServer(c=>{c.on('data',d=>n+=d.length);` +
      `c.on('end',()=>{process.stdout.write('received '+n+'\\n');s.close();});});` +
      `s.listen(${port},'${addr}',()=>process.stdout.write('listening\\n'));setTimeout(()=>process.exit(3),${timeoutMs}).unref();`,
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      if (String(d).includes('listening')) {
        srv.proc.stdout!.off('data', onData);
        resolve();
      }
    };
    srv.proc.stdout!.on('data', onData);
    srv.out.catch(reject);
  });
  const cli = nodeIn(
    client,
    `const c=require('net').connect(${port},'${addr}',()=>c.end(Buffer.alloc(${bytes},0x61)));` +
      `c.on('close',h=>process.exit(h?1:0));c.on('error',e=>{console.error(e.message);process.exit(1)});` +
      `setTimeout(()=>{console.error('timeout');process.exit(2)},${timeoutMs}).unref();`,
  );
  try {
    await cli.out;
  } catch (e) {
    srv.proc.kill();
    throw e;
  }
  const m = /received (\d+)/.exec(await srv.out);
  return m ? Number(m[1]) : -1;
}

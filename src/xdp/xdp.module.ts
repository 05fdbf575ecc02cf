// The XDP offload inside the application: the dataplane's Offload (injected under OFFLOAD, so the
// dataplane never imports this folder) and the source of /v1/state's XDP counters (XdpSync).
import { Global, Logger, Module } from '@nestjs/common';
import { BPFFS, ensureBpffs, onBpffs } from '../bpf/bpffs';
import { OFFLOAD } from '../dataplane/offload';
import { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { XdpSync } from './xdp-sync';

/** Pinned XDP links live in bpffs; most distributions mount it, some (minimal VMs) do not. */
function mountBpffs(logger: Logger): void {
  if (onBpffs(BPFFS)) return;
  try {
    ensureBpffs(BPFFS);
    logger.log(`mounted bpffs at ${BPFFS}`);
  } catch (e) {
    logger.warn(`bpffs is not mounted and mounting it failed: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Loads nothing until a tenant asks for the offload; reuses the pinned links of a previous run. */
function xdpSync(kernel: RtnetlinkRepository): XdpSync {
  const logger = new Logger('Dataplane');
  mountBpffs(logger);
  return new XdpSync({
    // The socket opens in RtnetlinkRepository's onModuleInit, after this factory ran.
    nl: { link: (name) => kernel.rtnetlink.link(name) },
    netns: kernel.netns,
    log: (level, msg, detail) => logger[level](`${msg}${detail ? ` ${JSON.stringify(detail)}` : ''}`),
  });
}

@Global()
@Module({
  providers: [
    { provide: XdpSync, useFactory: xdpSync, inject: [RtnetlinkRepository] },
    { provide: OFFLOAD, useExisting: XdpSync },
  ],
  exports: [XdpSync, OFFLOAD],
})
export class XdpModule {}

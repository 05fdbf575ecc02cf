import { Global, Module } from '@nestjs/common';

import { RtnetlinkRepository } from './rtnetlink.repository';

/** Repositories for the kernel of the managed namespace. */
@Global()
@Module({ providers: [RtnetlinkRepository], exports: [RtnetlinkRepository] })
export class KernelModule {}

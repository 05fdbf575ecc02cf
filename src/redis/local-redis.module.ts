import { Module } from '@nestjs/common';

import { LocalRedisService } from './local-redis.service';

@Module({ providers: [LocalRedisService], exports: [LocalRedisService] })
export class LocalRedisModule {}

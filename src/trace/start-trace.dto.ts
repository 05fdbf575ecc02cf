// Body of POST /v1/traces (TraceRequest, validated by the global ValidationPipe). The service
// checks the same rules again (TraceService.normalize) so that direct callers get them too.
import 'reflect-metadata';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, Validate, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';

import { BACKENDS, Backend, TraceType } from './backend';
import type { TraceRequest } from './trace.service';

/** A 32-bit unsigned number, or a string with one in hex (0x…) or decimal. */
@ValidatorConstraint({ name: 'u32OrString' })
export class U32OrStringConstraint implements ValidatorConstraintInterface {
  validate(v: unknown): boolean {
    if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    if (typeof v !== 'string' || !/^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(v)) return false;
    return Number(v) <= 0xffffffff;
  }
  defaultMessage(): string {
    return '$property must be a 32-bit unsigned number, or a string with one in hex (0x...) or decimal';
  }
}

export class StartTraceDto implements TraceRequest {
  /** Packets whose (skb->mark & mask) == (mark & mask) are traced. */
  @Validate(U32OrStringConstraint)
  mark!: number | string;

  @IsOptional() @Validate(U32OrStringConstraint)
  mask?: number | string;

  /** Only functions/tracepoints whose name matches (JavaScript RegExp). */
  @IsOptional() @IsString() @MaxLength(256)
  regex?: string;

  @IsOptional() @IsIn(BACKENDS)
  backend?: Backend;

  @IsOptional() @IsIn(['function', 'function_graph'])
  type?: TraceType;

  @IsOptional() @IsInt() @Min(0) @Max(0xffffffff)
  netnsInode?: number;

  @IsOptional() @IsInt() @Min(0) @Max(0xffffffff)
  ifindex?: number;

  /** Default 10 s; the service caps it (600 s by default). */
  @IsOptional() @IsInt() @Min(1)
  durationMs?: number;

  /** Events kept; the service caps it (50,000 by default). */
  @IsOptional() @IsInt() @Min(1)
  limit?: number;
}

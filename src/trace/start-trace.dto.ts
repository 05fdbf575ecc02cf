// Body of POST /v1/traces (TraceRequest), validated by the controller's pipe (traceBodyPipe). The
// service checks the same rules again (TraceService.normalize) so that direct callers get them too.
import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  Validate,
  ValidationArguments,
  ValidationError,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';

import { BACKENDS, Backend, DEFAULT_MAX_PROBES, MAX_PROBES_LIMIT, TraceType } from './backend';
import { nameFilterProblem } from './name-filter';
import { TraceRequest, TraceRequestError } from './trace.service';

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

/** A target filter the tracer accepts: RegExp syntax without backtracking constructs (name-filter.ts). */
@ValidatorConstraint({ name: 'nameFilter' })
export class NameFilterConstraint implements ValidatorConstraintInterface {
  validate(v: unknown): boolean {
    return typeof v === 'string' && nameFilterProblem(v) === undefined;
  }
  defaultMessage(args: ValidationArguments): string {
    const problem = typeof args.value === 'string' ? nameFilterProblem(args.value) : 'not a string';
    return `$property is not a usable filter: ${problem}`;
  }
}

const U32_SCHEMA = {
  oneOf: [
    { type: 'integer', minimum: 0, maximum: 0xffffffff },
    { type: 'string', pattern: '^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$' },
  ],
};

export class StartTraceDto implements TraceRequest {
  @ApiProperty({ ...U32_SCHEMA, example: '0xdeadbeef', description: 'Packets whose (skb->mark & mask) == (mark & mask) are traced' })
  @Validate(U32OrStringConstraint)
  mark!: number | string;

  @ApiPropertyOptional({ ...U32_SCHEMA, example: '0xffffffff', description: 'Default 0xffffffff; 0 matches every mark (narrow with netnsInode/ifindex)' })
  @IsOptional()
  @Validate(U32OrStringConstraint)
  mask?: number | string;

  @ApiPropertyOptional({
    example: '^(seg6|ip6_|__dev_queue_xmit)',
    description: 'Only functions/tracepoints whose name matches: JavaScript RegExp syntax without backreferences, lookaround or \\b, matched in linear time',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  @Validate(NameFilterConstraint)
  regex?: string;

  @ApiPropertyOptional({ enum: BACKENDS, description: 'Default: the automatic choice (docs/tracing.md, ADR 0006)' })
  @IsOptional()
  @IsIn(BACKENDS)
  backend?: Backend;

  @ApiPropertyOptional({ enum: ['function', 'function_graph'], description: 'function_graph adds return events (fentry only)' })
  @IsOptional()
  @IsIn(['function', 'function_graph'])
  type?: TraceType;

  @ApiPropertyOptional({
    type: 'integer',
    example: DEFAULT_MAX_PROBES,
    description: `Refuse the trace (nothing attached) if it needs more probes. Default ${DEFAULT_MAX_PROBES}, at most ${MAX_PROBES_LIMIT}; function_graph counts two per function`,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_PROBES_LIMIT)
  maxProbes?: number;

  @ApiPropertyOptional({ type: 'integer', example: 0, description: "Network namespace inode; default: the agent's managed namespace; 0: every namespace" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(0xffffffff)
  netnsInode?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Only skbs whose device has this ifindex' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(0xffffffff)
  ifindex?: number;

  @ApiPropertyOptional({ type: 'integer', example: 10_000, description: 'Default 10 s; capped by the service (600 s)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  durationMs?: number;

  @ApiPropertyOptional({ type: 'integer', example: 1000, description: 'Events kept; the trace ends when reached. Default and cap: 50,000' })
  @IsOptional()
  @IsInt()
  @Min(1)
  limit?: number;
}

function fieldErrors(errors: ValidationError[]): TraceRequestError {
  return new TraceRequestError(errors.map((e) => ({ field: e.property, messages: Object.values(e.constraints ?? { invalid: `${e.property} is invalid` }) })));
}

/**
 * The body pipe of POST /v1/traces: the StartTraceDto rules, unknown fields refused, every field
 * error in a TraceRequestError (HTTP 400 with `errors`). The parameter is typed with the
 * TraceRequest interface, so the global ValidationPipe leaves it to this one.
 */
export function traceBodyPipe(): ValidationPipe {
  return new ValidationPipe({ expectedType: StartTraceDto, whitelist: true, forbidNonWhitelisted: true, transform: true, exceptionFactory: fieldErrors });
}

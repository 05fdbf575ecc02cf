// The jobs an orchestrator submits for a hypervisor. One envelope DTO per job type; the same
// classes validate REST bodies and Bull payloads, both through validateJob (job-validation.ts).
import 'reflect-metadata';
import { ArrayMaxSize, IsArray, IsDefined, IsIn, IsString, Matches, MaxLength } from 'class-validator';
import { MAX_ROUTES_PER_JOB, NodeSpecDto, RemoteRouteDto, TENANT_ID_PATTERN, TenantSpecDto } from '../dataplane/spec.dto';
import { IsAbsentOr, IsIpPrefix, IsNested } from '../dataplane/validators';

export const JOB_TYPES = ['upsert-node', 'upsert-tenant', 'delete-tenant', 'routes', 'resync'] as const;
export type JobType = (typeof JOB_TYPES)[number];

const TENANT_MSG = 'tenant must be a tenant id (1..11 characters of a-z, 0-9, "_" or "-", not "constructor")';

export class JobEnvelopeDto {
  @IsIn(JOB_TYPES)
  type!: JobType;

  /**
   * The same key twice returns the first job's result and applies nothing again. The key is the
   * queue's job id, so it may not be digits only: those are the ids the queue numbers jobs with
   * (key "1" would have found job 1 and returned its result as a duplicate).
   */
  @IsAbsentOr()
  @IsString()
  @Matches(/^(?![0-9]+$)[A-Za-z0-9._:-]{1,128}$/, {
    message: 'idempotencyKey must be 1..128 characters of A-Z a-z 0-9 . _ : -, not digits only (those are the queue’s own job ids)',
  })
  idempotencyKey?: string;
}

export class UpsertNodeJobDto extends JobEnvelopeDto {
  @IsDefined()
  @IsNested(() => NodeSpecDto)
  node!: NodeSpecDto;
}

export class UpsertTenantJobDto extends JobEnvelopeDto {
  @IsDefined()
  @IsNested(() => TenantSpecDto)
  tenant!: TenantSpecDto;
}

export class DeleteTenantJobDto extends JobEnvelopeDto {
  @IsString()
  @Matches(TENANT_ID_PATTERN, { message: TENANT_MSG })
  tenant!: string;
}

/** Replace a tenant's remote routes (`set`), or add and remove some of them. */
export class RoutesJobDto extends JobEnvelopeDto {
  @IsString()
  @Matches(TENANT_ID_PATTERN, { message: TENANT_MSG })
  tenant!: string;

  @IsAbsentOr()
  @IsArray()
  @ArrayMaxSize(MAX_ROUTES_PER_JOB)
  @IsNested(() => RemoteRouteDto, { each: true })
  set?: RemoteRouteDto[];

  @IsAbsentOr()
  @IsArray()
  @ArrayMaxSize(MAX_ROUTES_PER_JOB)
  @IsNested(() => RemoteRouteDto, { each: true })
  add?: RemoteRouteDto[];

  @IsAbsentOr()
  @IsArray()
  @ArrayMaxSize(MAX_ROUTES_PER_JOB)
  @IsIpPrefix({}, { each: true })
  remove?: string[];
}

export class ResyncJobDto extends JobEnvelopeDto {
  @IsAbsentOr()
  @IsString()
  @MaxLength(200)
  reason?: string;
}

export const JOB_DTOS: Record<JobType, new () => JobEnvelopeDto> = {
  'upsert-node': UpsertNodeJobDto,
  'upsert-tenant': UpsertTenantJobDto,
  'delete-tenant': DeleteTenantJobDto,
  routes: RoutesJobDto,
  resync: ResyncJobDto,
};

export type AnyJob = UpsertNodeJobDto | UpsertTenantJobDto | DeleteTenantJobDto | RoutesJobDto | ResyncJobDto;

// The jobs and results of the orchestrator's client as plain TypeScript types: the agent's DTO
// shapes (job.dto.ts, spec.dto.ts) with `type` as the discriminant, so a job literal of the wrong
// type or without a required field does not compile. Derived from the DTO classes (their fields
// are data only), so the two cannot drift apart.
import type { JobView } from '../jobs/job-queue';
import type { ProcessedJob } from '../jobs/handle-job';
import type { DeleteTenantJobDto, JobType, ResyncJobDto, RoutesJobDto, UpsertNodeJobDto, UpsertTenantJobDto } from '../jobs/job.dto';
import type { DxTargetDto, NodeSpecDto, RemoteRouteDto, TenantInterfaceDto, TenantSpecDto } from '../dataplane/spec.dto';

export type { DecapBehaviour, EncapMode } from '../dataplane/spec.dto';
export type { JobType };

export type NodeSpec = NodeSpecDto;
export type TenantSpec = TenantSpecDto;
export type TenantInterface = TenantInterfaceDto;
export type RemoteRoute = RemoteRouteDto;
export type DxTarget = DxTargetDto;

/** A DTO's fields with `type` narrowed to the one job type it carries. */
type Typed<T extends JobType, Dto> = Omit<Dto, 'type'> & { type: T };

export type UpsertNodeJob = Typed<'upsert-node', UpsertNodeJobDto>;
export type UpsertTenantJob = Typed<'upsert-tenant', UpsertTenantJobDto>;
export type DeleteTenantJob = Typed<'delete-tenant', DeleteTenantJobDto>;
/** Needs at least one of set, add, remove: validation checks that, the type does not. */
export type RoutesJob = Typed<'routes', RoutesJobDto>;
export type ResyncJob = Typed<'resync', ResyncJobDto>;

/** Any job, discriminated by `type`. */
export type Job = UpsertNodeJob | UpsertTenantJob | DeleteTenantJob | RoutesJob | ResyncJob;

/** What a finished job resolves with: the agent's result and the queue's job id. */
export type JobResult = ProcessedJob & { jobId: string };

/** A job as the queue shows it; `result` is the agent's result once the job completed. */
export type HypervisorJobView = Omit<JobView, 'type' | 'result'> & { type: JobType; result?: ProcessedJob };

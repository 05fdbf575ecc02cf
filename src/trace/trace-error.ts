// The traces API's own errors. Each declares its answer like every DomainError; the base class
// only tells TraceExceptionFilter which errors are the API's own (it answers them, and the
// InvalidArgumentError it words differently, ahead of the global filter).
import { DomainError } from '../common/domain-error';

export abstract class TraceError extends DomainError {}

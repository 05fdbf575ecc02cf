// REST API of the tracer: thin, one TraceService call per route. Errors: TraceExceptionFilter.
import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post, Query, Res, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';

import { StartTraceDto, traceBodyPipe } from './start-trace.dto';
import { TraceExceptionFilter } from './trace-exception.filter';
import { TraceInfo, TraceRequest, TraceResult, TraceService } from './trace.service';

/** Packets per GET unless ?limit says otherwise (at most MAX_PACKETS_PER_PAGE). */
const DEFAULT_PAGE = 1000;

/** An optional integer query parameter: absent is undefined, anything but digits is a 400 (the
 *  global pipe turns "abc" into NaN, which DefaultValuePipe would silently replace). */
const optionalInt = () => new ParseIntPipe({ optional: true });

/** What the text route needs of express's response (its types are not installed). */
interface ResponseLike {
  type(contentType: string): unknown;
}

@ApiTags('traces')
@Controller('v1/traces')
@UseFilters(TraceExceptionFilter)
export class TraceController {
  constructor(private readonly traces: TraceService) {}

  @Post()
  @ApiOperation({
    summary: 'Start a trace of the packets with a mark (ipft); answers once every probe is attached, i.e. when traffic may be sent',
    description: "One trace at a time. Default namespace filter: the agent's managed namespace (netnsInode 0: all).",
  })
  @ApiBody({ type: StartTraceDto })
  @ApiResponse({ status: 201, description: 'Running: backend, why the others were not used, attach summary' })
  @ApiResponse({
    status: 400,
    description: 'InvalidTraceRequest: errors[] with field and messages; TooManyProbes: the plan needs more probes than maxProbes (nothing attached)',
  })
  @ApiResponse({ status: 409, description: 'TraceBusy: another trace is running' })
  @ApiResponse({ status: 501, description: 'CapabilityMissing: no (or not the requested) tracing backend on this kernel; feature names it' })
  @ApiResponse({ status: 503, description: 'ManagedNetnsUnavailable, or the agent is shutting down' })
  start(@Body(traceBodyPipe()) body: TraceRequest): Promise<TraceInfo> {
    return this.traces.start(body);
  }

  @Get()
  @ApiOperation({ summary: 'Traces kept (the running one and the last finished), newest first, without packets' })
  list(): TraceInfo[] {
    return this.traces.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'State, Samples/Lost and a page of packets (events by timestamp, with len and GSO state)' })
  @ApiParam({ name: 'id' })
  @ApiQuery({ name: 'offset', required: false, description: 'first packet (0-based)' })
  @ApiQuery({ name: 'limit', required: false, description: `packets at most (default ${DEFAULT_PAGE}, at most 10,000)` })
  @ApiResponse({ status: 404, description: 'TraceNotFound' })
  get(@Param('id') id: string, @Query('offset', optionalInt()) offset?: number, @Query('limit', optionalInt()) limit?: number): TraceResult {
    return this.traces.get(id, { offset, limit: limit ?? DEFAULT_PAGE });
  }

  @Get(':id/text')
  @ApiOperation({ summary: 'The whole trace as ipft prints it (aggregate output), text/plain' })
  @ApiResponse({ status: 404, description: 'TraceNotFound' })
  text(@Param('id') id: string, @Res({ passthrough: true }) res: ResponseLike): string {
    const text = this.traces.text(id);
    res.type('text/plain'); // only on success: errors stay JSON
    return text;
  }

  @Post(':id/stop')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop a trace (idempotent): answers once every probe is detached, with the first page of packets' })
  @ApiResponse({ status: 404, description: 'TraceNotFound' })
  stop(@Param('id') id: string, @Query('limit', optionalInt()) limit?: number): Promise<TraceResult> {
    return this.traces.stop(id, { limit: limit ?? DEFAULT_PAGE });
  }
}

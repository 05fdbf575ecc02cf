import { Body, Controller, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Post, Query, DefaultValuePipe } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { JobsService, SubmitResult } from './jobs.service';
import { JobView } from './job-queue';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Enqueue a job (upsert-node, upsert-tenant, delete-tenant, routes, resync); ?wait=MS waits for its result' })
  @ApiBody({
    schema: { type: 'object', example: { type: 'routes', tenant: 'alpha', add: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }], idempotencyKey: 'o-123' } },
  })
  @ApiQuery({ name: 'wait', required: false, description: 'milliseconds to wait for the result' })
  submit(@Body() body: unknown, @Query('wait', new DefaultValuePipe(0), ParseIntPipe) wait: number): Promise<SubmitResult> {
    return this.jobs.submit(body, Math.min(Math.max(wait, 0), 300_000));
  }

  @Get()
  @ApiOperation({ summary: 'Recent jobs, newest first' })
  list(@Query('limit', new DefaultValuePipe(100), ParseIntPipe) limit: number): Promise<JobView[]> {
    return this.jobs.list(Math.min(Math.max(limit, 1), 1000));
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<JobView> {
    const j = await this.jobs.get(id);
    if (!j) throw new NotFoundException(`no job ${id}`);
    return j;
  }
}

import { Controller, Get, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { StateService } from './state.service';

@ApiTags('state')
@Controller('v1')
export class StateController {
  constructor(private readonly state: StateService) {}

  @Get('state')
  @ApiOperation({ summary: 'Desired state, owned kernel objects and decap counters of every tenant' })
  summary() {
    return this.state.summary();
  }

  @Get('tenants/:id')
  @ApiOperation({ summary: 'One tenant: desired and as the kernel holds it' })
  tenant(@Param('id') id: string) {
    return this.state.tenant(id);
  }
}

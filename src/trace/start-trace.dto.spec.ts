// The REST body of POST /v1/traces, as the global ValidationPipe checks it.
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

import { StartTraceDto } from './start-trace.dto';

const errors = (body: object) =>
  validateSync(plainToInstance(StartTraceDto, body), { whitelist: true, forbidNonWhitelisted: true }).map((e) => e.property);

describe('StartTraceDto', () => {
  it('accepts marks as numbers, hex or decimal strings, and the optional fields', () => {
    expect(errors({ mark: 0xdeadbeef })).toEqual([]);
    expect(errors({ mark: '0xdeadbeef', mask: '0xffff', regex: '^seg6', backend: 'tp_btf', type: 'function', netnsInode: 4026531840, ifindex: 3, durationMs: 5000, limit: 100 })).toEqual([]);
  });

  it('names the fields it refuses', () => {
    expect(errors({})).toEqual(['mark']);
    expect(errors({ mark: '0x1ffffffff' })).toEqual(['mark']);
    expect(errors({ mark: -1 })).toEqual(['mark']);
    expect(errors({ mark: 1, backend: 'ebpf', type: 'graph', durationMs: 0, bogus: 1 }).sort()).toEqual(['backend', 'bogus', 'durationMs', 'type']);
  });
});

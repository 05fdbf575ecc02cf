// The REST body of POST /v1/traces, as the global ValidationPipe checks it.
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

import { StartTraceDto, traceBodyPipe } from './start-trace.dto';
import { TraceRequestError } from './trace.service';

const errors = (body: object) => validateSync(plainToInstance(StartTraceDto, body), { whitelist: true, forbidNonWhitelisted: true }).map((e) => e.property);

describe('StartTraceDto', () => {
  it('accepts marks as numbers, hex or decimal strings, and the optional fields', () => {
    expect(errors({ mark: 0xdeadbeef })).toEqual([]);
    expect(
      errors({
        mark: '0xdeadbeef',
        mask: '0xffff',
        regex: '^seg6',
        backend: 'tp_btf',
        type: 'function',
        netnsInode: 4026531840,
        ifindex: 3,
        durationMs: 5000,
        limit: 100,
        maxProbes: 16384,
      }),
    ).toEqual([]);
    expect(errors({ mark: 1, regex: '(\\w+)+\\.' })).toEqual([]); // matched in linear time: nothing to fear
  });

  it('names the fields it refuses', () => {
    expect(errors({})).toEqual(['mark']);
    expect(errors({ mark: '0x1ffffffff' })).toEqual(['mark']);
    expect(errors({ mark: -1 })).toEqual(['mark']);
    expect(errors({ mark: 1, backend: 'ebpf', type: 'graph', durationMs: 0, bogus: 1 }).sort()).toEqual(['backend', 'bogus', 'durationMs', 'type']);
    expect(errors({ mark: 1, regex: '(a)\\1', maxProbes: 0 }).sort()).toEqual(['maxProbes', 'regex']);
    expect(errors({ mark: 1, regex: 'a(?=b)' })).toEqual(['regex']);
    expect(errors({ mark: 1, maxProbes: 16385 })).toEqual(['maxProbes']);
  });
});

describe('traceBodyPipe', () => {
  const pipe = traceBodyPipe();
  const meta = { type: 'body' as const, metatype: Object, data: undefined };

  it('gives a StartTraceDto for a good body', async () => {
    const dto = await pipe.transform({ mark: '0xdeadbeef', durationMs: 500 }, meta);
    expect(dto).toBeInstanceOf(StartTraceDto);
    expect(dto).toEqual({ mark: '0xdeadbeef', durationMs: 500 });
  });

  it('names every field it refuses, with the messages, in one TraceRequestError', async () => {
    const err = await pipe.transform({ mark: 'x', durationMs: 0, bogus: 1 }, meta).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceRequestError);
    const errors = (err as TraceRequestError).errors;
    expect(Object.fromEntries(errors.map((e) => [e.field, e.messages]))).toEqual({
      mark: ['mark must be a 32-bit unsigned number, or a string with one in hex (0x...) or decimal'],
      durationMs: ['durationMs must not be less than 1'],
      bogus: ['property bogus should not exist'],
    });
  });

  it('says why a filter is refused, and where', async () => {
    const err = (await pipe.transform({ mark: 1, regex: '^ip6?_\\brcv' }, meta).catch((e: unknown) => e)) as TraceRequestError;
    expect(err.errors).toEqual([{ field: 'regex', messages: ['regex is not a usable filter: word boundaries (\\b, \\B) are not supported (at position 6)'] }]);
  });

  it('refuses a body that is not an object', async () => {
    for (const body of [[{ mark: 1 }], 'mark=1', null]) await expect(pipe.transform(body, meta)).rejects.toBeInstanceOf(TraceRequestError);
  });
});

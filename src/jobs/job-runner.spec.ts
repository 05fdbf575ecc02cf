// Which failures are retried: a unit table of retryOf() (common/domain-error.ts). Each domain
// error's own class is in the table of domain-exception.filter.spec.ts.
import { CapabilityMissingError } from '../common/errors';
import { retryOf } from '../common/domain-error';
import { MissingInterfaceError, StateWriteError } from '../dataplane/errors';
import { InvalidArgumentError, KernelError, NetlinkSocketError } from '../netlink/errors';
import { QueueStoreError } from './job-queue';

describe('retryOf', () => {
  it.each([
    ['a field the job got wrong', new InvalidArgumentError('sid', 'outside the locator'), 'permanent'],
    ['a kernel feature this host lacks', new CapabilityMissingError('seg6local.End.DT4'), 'permanent'],
    ['a missing interface', new MissingInterfaceError('tap9'), 'permanent'],
    ['a TypeError (a bug: it fails the same way again)', new TypeError("Cannot read properties of undefined (reading 'length')"), 'permanent'],
    ['a RangeError', new RangeError('Invalid array length'), 'permanent'],
    ['the netlink socket failing', new NetlinkSocketError('socket closed'), 'transient'],
    // Issue 16: an error nobody declared is permanent (it was transient: retried, reported as retryable).
    ['an unknown error', Object.assign(new Error('Connection is closed.'), { name: 'ReplyError' }), 'permanent'],
    ['something thrown that is not an Error', 'oops', 'permanent'],
    ['the kernel busy', new KernelError(16, { type: 24, flags: 0, seq: 1, what: 'route x' }), 'transient'],
    ['the kernel refusing', new KernelError(22, { type: 24, flags: 0, seq: 1, what: 'route x' }), 'permanent'],
    [
      'Redis away (the idempotency store)',
      new QueueStoreError('idempotency get', Object.assign(new Error('Connection is closed.'), { name: 'ReplyError' })),
      'transient',
    ],
    [
      'the state directory failing a write',
      new StateWriteError('/var/lib/srv6-agent', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 })),
      'transient',
    ],
  ])('%s: %s', (_what, e, want) => {
    expect(retryOf(e)).toBe(want);
  });
});

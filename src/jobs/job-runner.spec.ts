// Which failures are retried: a unit table of classify().
import { CapabilityMissingError } from '../common/errors';
import { MissingInterfaceError } from '../dataplane/planner';
import { InvalidArgumentError, NetlinkSocketError } from '../netlink/errors';
import { classify } from './job-runner';

describe('classify', () => {
  it.each([
    ['a field the job got wrong', new InvalidArgumentError('sid', 'outside the locator'), 'permanent'],
    ['a kernel feature this host lacks', new CapabilityMissingError('seg6local.End.DT4'), 'permanent'],
    ['a missing interface', new MissingInterfaceError('tap9'), 'permanent'],
    ['a TypeError (a bug: it fails the same way again)', new TypeError("Cannot read properties of undefined (reading 'length')"), 'permanent'],
    ['a RangeError', new RangeError('Invalid array length'), 'permanent'],
    ['the netlink socket failing', new NetlinkSocketError('socket closed'), 'transient'],
    ['an unknown error (Redis or disk I/O)', Object.assign(new Error('Connection is closed.'), { name: 'ReplyError' }), 'transient'],
  ])('%s: %s', (_what, e, want) => {
    expect(classify(e)).toBe(want);
  });
});

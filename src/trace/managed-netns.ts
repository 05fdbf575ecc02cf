// The inode of the network namespace the agent manages (config kernel.netns; empty: the agent's
// own): the REST API's default netns filter, so that a trace shows the packets of this agent's
// namespace and not those of other software on the host that uses the same mark.
import { statSync } from 'node:fs';

import { netnsPath } from '../kernel/named-netns';
import { TraceError } from './trace-error';

/** The namespace may be back (re-created) for a later request. */
export class ManagedNetnsUnavailableError extends TraceError {
  override readonly name = 'ManagedNetnsUnavailableError';
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'ManagedNetnsUnavailable';
  constructor(
    readonly netns: string,
    reason: string,
  ) {
    super(`the managed network namespace ${netns ? JSON.stringify(netns) : "(the agent's own)"} is not available: ${reason}`);
  }

  override details() {
    return { netns: this.netns };
  }
}

/** `stat -L -c %i` of the namespace; checks that it still is a namespace (nsfs), not a leftover file. */
export function managedNetnsInode(netns: string): number {
  const path = netns ? netnsPath(netns) : '/proc/self/ns/net';
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new ManagedNetnsUnavailableError(netns, `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // Every namespace file lives on nsfs; an unmounted /run/netns/NAME is a plain file elsewhere.
  if (st.dev !== statSync('/proc/self/ns/net').dev) throw new ManagedNetnsUnavailableError(netns, `${path} is not a namespace any more`);
  return st.ino;
}

// The REST API's default netns filter: the inode of the managed namespace, or a clear error.
import { statSync } from 'node:fs';

import { managedNetnsInode, ManagedNetnsUnavailableError } from './managed-netns';

describe('managedNetnsInode', () => {
  it("is the agent's own namespace when kernel.netns is empty", () => {
    expect(managedNetnsInode('')).toBe(statSync('/proc/self/ns/net').ino);
  });

  it('names a namespace that does not exist', () => {
    const name = `srv6t-none-${process.pid}`;
    expect(() => managedNetnsInode(name)).toThrow(ManagedNetnsUnavailableError);
    expect(() => managedNetnsInode(name)).toThrow(new RegExp(`"${name}" is not available: /var/run/netns/${name}: ENOENT`));
  });
});

// sysctls of one network namespace. /proc/sys/net resolves against the opener's netns, so the
// addon opens the file from inside the namespace; keys are segment lists because interface names
// may contain dots.
import { InvalidArgumentError } from './errors';
import { native, NetnsRef, netnsRef } from '../native/addon';

export class Sysctl {
  constructor(private readonly netns?: NetnsRef) {}

  private path(key: string[]): string {
    // A NUL would end the path in C: "ul0\0x" would be ul0's setting.
    for (const seg of key)
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      if (!seg || seg.includes('/') || seg === '..' || seg === '.' || /[\x00-\x1f\x7f]/.test(seg))
        throw new InvalidArgumentError('sysctl', `bad key segment ${JSON.stringify(seg)}`);
    return `/proc/sys/${key.join('/')}`;
  }

  get(key: string[]): string {
    return native().sysctl(netnsRef(this.netns), this.path(key)).trim();
  }

  set(key: string[], value: string | number): void {
    native().sysctl(netnsRef(this.netns), this.path(key), String(value));
  }

  /** Writes only when different, returning whether it changed (idempotent reconciliation). */
  ensure(key: string[], value: string | number): boolean {
    if (this.get(key) === String(value)) return false;
    this.set(key, value);
    return true;
  }

  /** "net.ipv6.conf.all.forwarding" for keys without dots in their segments. */
  static key(dotted: string): string[] {
    return dotted.split('.');
  }
}

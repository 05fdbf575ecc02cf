// class-validator decorators backed by the rtnetlink layer's own parsers, so that what validates
// is exactly what encodes.
import { Type } from 'class-transformer';
import { IsObject, ValidateBy, ValidateIf, ValidateNested, ValidationOptions } from 'class-validator';
import { Family, mask, parseAddress, parsePrefix, Prefix } from '../netlink/ip';
import { validateIfname } from '../netlink/link';

function accepts(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

export function IsIpPrefix(opts: { family?: Family; allowHostBits?: boolean } = {}, v?: ValidationOptions): PropertyDecorator {
  const what = `an ${opts.family ? `IPv${opts.family} ` : 'IP '}prefix (address/length${opts.allowHostBits ? '' : ', host bits zero'})`;
  return ValidateBy(
    {
      name: 'isIpPrefix',
      validator: {
        validate: (x) => typeof x === 'string' && accepts(() => parsePrefix(x, 'x', opts)),
        defaultMessage: (a) => `${a?.property} must be ${what}`,
      },
    },
    v,
  );
}

export function IsIpAddr(family?: Family, v?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIpAddr',
      validator: {
        validate: (x) => typeof x === 'string' && accepts(() => parseAddress(x, 'x', family)),
        defaultMessage: (a) => `${a?.property} must be an ${family ? `IPv${family}` : 'IP'} address`,
      },
    },
    v,
  );
}

/**
 * Names every JavaScript object already has (constructor, __proto__, toString, …). The desired
 * state keys records by tenant ids and interface names: `tenants["constructor"]` would find
 * Object's constructor, and `delete` of a tenant so named would be a silent no-op.
 */
export function isObjectKey(name: string): boolean {
  return Object.getOwnPropertyNames(Object.prototype).includes(name);
}

/**
 * Control characters, NUL above all: the kernel reads an interface name up to its first NUL, so
 * "ul0\0x" names ul0 there while every check of the agent compares the whole string.
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export function IsIfname(v?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIfname',
      validator: {
        validate: (x) => accepts(() => validateIfname(x)) && !CONTROL.test(x as string) && !isObjectKey(x as string),
        defaultMessage: (a) =>
          typeof a?.value === 'string' && isObjectKey(a.value)
            ? `${a?.property} must not be "${a.value}": the agent keys its state by interface names`
            : `${a?.property} must be an interface name of 1..15 bytes without '/', ':', spaces or control characters`,
      },
    },
    v,
  );
}

/** Not the loopback: an interface of the fabric or of a VM is never `lo`. */
export function IsNotLoopback(what: string, v?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isNotLoopback',
      validator: { validate: (x) => x !== 'lo', defaultMessage: (a) => `${a?.property} must not be lo: the hypervisor’s loopback is not ${what}` },
    },
    v,
  );
}

/** What an address is when it is no host's own: unspecified, loopback, multicast, IPv4's limited broadcast; undefined for unicast. */
export function specialAddress(a: Buffer): string | undefined {
  if (a.length === 4) {
    if (a.every((b) => b === 0)) return 'unspecified';
    if (a[0] === 127) return 'loopback';
    if (a[0] >= 224 && a[0] <= 239) return 'multicast';
    if (a.every((b) => b === 255)) return 'broadcast';
    return undefined;
  }
  if (a[0] === 0xff) return 'multicast';
  if (a.subarray(0, 15).every((b) => b === 0)) return a[15] === 0 ? 'unspecified' : a[15] === 1 ? 'loopback' : undefined;
  return undefined;
}

/**
 * A unicast address (or, for "address/length", a unicast address part): what a host sends from,
 * a packet is sent to, an interface holds. Values that do not parse pass: IsIpAddr/IsIpPrefix
 * report those.
 */
export function IsUnicast(v?: ValidationOptions): PropertyDecorator {
  const special = (x: unknown): string | undefined => {
    if (typeof x !== 'string') return undefined;
    try {
      return specialAddress(x.includes('/') ? parsePrefix(x, 'x', { allowHostBits: true }).addr : parseAddress(x, 'x'));
    } catch {
      return undefined;
    }
  };
  return ValidateBy(
    {
      name: 'isUnicast',
      validator: {
        validate: (x) => special(x) === undefined,
        defaultMessage: (a) => {
          const bad = (Array.isArray(a?.value) ? a.value : [a?.value]).find((x: unknown) => special(x) !== undefined);
          return `${a?.property} must be unicast, not ${bad === undefined ? 'a special address' : `${special(bad)} ${JSON.stringify(bad)}`}`;
        },
      },
    },
    v,
  );
}

/** IPv6 ranges no locator may overlap: the fabric routes none of them to a hypervisor. */
const NOT_ROUTED: Prefix[] = ['::/128', '::1/128', 'fe80::/10', 'ff00::/8'].map((p) => parsePrefix(p, 'x'));

function overlap(a: Prefix, b: Prefix): boolean {
  const len = Math.min(a.len, b.len);
  return a.addr.length === b.addr.length && mask(a.addr, len).equals(mask(b.addr, len));
}

/** An IPv6 prefix that overlaps none of ::, ::1, fe80::/10, ff00::/8 (so not ::/0 either). */
export function IsRoutedPrefix(v?: ValidationOptions): PropertyDecorator {
  const hit = (x: unknown): Prefix | undefined => {
    if (typeof x !== 'string') return undefined;
    try {
      const p = parsePrefix(x, 'x', { family: 6 });
      return NOT_ROUTED.find((n) => overlap(n, p));
    } catch {
      return undefined; // IsIpPrefix reports it
    }
  };
  return ValidateBy(
    {
      name: 'isRoutedPrefix',
      validator: {
        validate: (x) => !hit(x),
        defaultMessage: (a) =>
          `${a?.property} must not overlap ::, ::1, fe80::/10 or ff00::/8 (unspecified, loopback, link-local, multicast): the fabric routes it to this hypervisor`,
      },
    },
    v,
  );
}

/**
 * A nested DTO (`each`: a list of them): an object, validated as `type`. ValidateNested alone
 * takes a list where one object belongs (and, in a list, a list for an element): [] would pass
 * as a node, [node] too, and the dataplane would then read fields of an array.
 */
export function IsNested(type: () => new () => object, v: { each?: boolean } = {}): PropertyDecorator {
  const decorators = [IsObject({ each: v.each }), ValidateNested({ each: v.each }), Type(type)];
  return (target, key) => decorators.forEach((d) => d(target, key));
}

/**
 * Like @IsOptional, but only an absent field is skipped: an explicit null is validated (and fails
 * the field's other rules) rather than silently meaning "not given".
 */
export function IsAbsentOr(): PropertyDecorator {
  return ValidateIf((_o, v) => v !== undefined);
}

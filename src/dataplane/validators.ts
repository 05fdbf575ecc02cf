// class-validator decorators backed by the rtnetlink layer's own parsers, so that what validates
// is exactly what encodes.
import { ValidateBy, ValidateIf, ValidationOptions } from 'class-validator';
import { Family, parseAddress, parsePrefix } from '../netlink/ip';
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
  return ValidateBy({ name: 'isIpPrefix', validator: { validate: (x) => typeof x === 'string' && accepts(() => parsePrefix(x, 'x', opts)), defaultMessage: (a) => `${a?.property} must be ${what}` } }, v);
}

export function IsIpAddr(family?: Family, v?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isIpAddr', validator: { validate: (x) => typeof x === 'string' && accepts(() => parseAddress(x, 'x', family)), defaultMessage: (a) => `${a?.property} must be an ${family ? `IPv${family}` : 'IP'} address` } }, v);
}

/**
 * Names every JavaScript object already has (constructor, __proto__, toString, …). The desired
 * state keys records by tenant ids and interface names: `tenants["constructor"]` would find
 * Object's constructor, and `delete` of a tenant so named would be a silent no-op.
 */
export function isObjectKey(name: string): boolean {
  return Object.getOwnPropertyNames(Object.prototype).includes(name);
}

export function IsIfname(v?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIfname',
      validator: {
        validate: (x) => accepts(() => validateIfname(x)) && !isObjectKey(x as string),
        defaultMessage: (a) => (typeof a?.value === 'string' && isObjectKey(a.value) ? `${a?.property} must not be "${a.value}": the agent keys its state by interface names` : `${a?.property} must be an interface name of 1..15 bytes without '/', ':' or spaces`),
      },
    },
    v,
  );
}

/**
 * Like @IsOptional, but only an absent field is skipped: an explicit null is validated (and fails
 * the field's other rules) rather than silently meaning "not given".
 */
export function IsAbsentOr(): PropertyDecorator {
  return ValidateIf((_o, v) => v !== undefined);
}

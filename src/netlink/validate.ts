// Field validators shared by the object files: reject before anything reaches the kernel.
import { RT_TABLE } from './constants';
import { InvalidArgumentError } from './errors';

export function validateU32(v: unknown, field: string, min = 0): number {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > 0xffffffff)
    throw new InvalidArgumentError(field, `must be an integer ${min}..4294967295, got ${v}`);
  return v as number;
}

/** `lookupOnly`: the table is only looked up (a rule), so the kernel's local table is fine too. */
export function validateTable(t: unknown, field: string, opts: { lookupOnly?: boolean } = {}): number {
  if (!Number.isInteger(t) || (t as number) < 1 || (t as number) > 0xffffffff)
    throw new InvalidArgumentError(field, `table id must be an integer 1..4294967295, got ${t}`);
  if (t === RT_TABLE.LOCAL && !opts.lookupOnly) throw new InvalidArgumentError(field, 'table 255 (local) belongs to the kernel');
  return t as number;
}

export function validateU8(v: unknown, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 255) throw new InvalidArgumentError(field, `must be 0..255, got ${v}`);
  return v as number;
}

// Merges the configuration sources and validates the result; a bad value becomes a ConfigError
// that names the field and where the value came from, so the process can stop with a clear message.
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { readFileSync } from 'node:fs';

import { AgentConfig, AgentConfigInput, CONFIG_DEFAULTS, CONFIG_ENV, ConfigField } from './agent.config';

export interface ConfigIssue {
  /** Dotted path, e.g. "server.listen". */
  field: string;
  /** Where the value came from: "default", "SRV6_LISTEN", "--listen", "config file /x.json". */
  source: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.field} (from ${i.source}): ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Environment (default: none; the CLI passes process.env). */
  env?: Record<string, string | undefined>;
  /** Path of a JSON config file. */
  file?: string;
  /** Command-line values, by field, with the flag that set them. */
  overrides?: Partial<Record<ConfigField, { value: string; flag: string }>>;
}

type Plain = Record<string, Record<string, unknown>>;

function set(target: Plain, field: string, value: unknown): void {
  const [ns, key] = field.split('.') as [string, string];
  target[ns] = { ...(target[ns] ?? {}), [key]: value };
}

function readFile(path: string): AgentConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([
      { field: '(file)', source: `config file ${path}`, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` },
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([{ field: '(file)', source: `config file ${path}`, message: `not valid JSON: ${(e as Error).message}` }]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ConfigError([{ field: '(file)', source: `config file ${path}`, message: 'must hold a JSON object' }]);
  return data as AgentConfigInput;
}

function flatten(errors: ValidationError[], prefix = ''): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    for (const [rule, msg] of Object.entries(e.constraints ?? {})) {
      // class-validator prefixes most messages with the property name; we print the path ourselves.
      const clean = msg.startsWith(`${e.property} `) ? msg.slice(e.property.length + 1) : msg;
      const message = rule === 'whitelistValidation' ? 'unknown setting' : rule === 'nestedValidation' ? 'must be an object' : clean;
      out.push({ field, message });
    }
    out.push(...flatten(e.children ?? [], field));
  }
  return out;
}

/** Loads and validates the configuration; throws ConfigError naming every bad field. */
export function loadConfig(sources: ConfigSources = {}): AgentConfig {
  const merged: Plain = JSON.parse(JSON.stringify(CONFIG_DEFAULTS));
  const origin = new Map<string, string>(Object.keys(CONFIG_ENV).map((f) => [f, 'default']));

  if (sources.file !== undefined) {
    const file = readFile(sources.file);
    const label = `config file ${sources.file}`;
    for (const [ns, section] of Object.entries(file)) {
      if (typeof section !== 'object' || section === null || Array.isArray(section)) {
        merged[ns] = section as never; // let validation report it under its name
        origin.set(ns, label);
        continue;
      }
      merged[ns] = { ...(merged[ns] ?? {}) }; // an unknown (even empty) section is reported
      origin.set(ns, label);
      for (const [key, value] of Object.entries(section)) {
        set(merged, `${ns}.${key}`, value);
        origin.set(`${ns}.${key}`, label);
      }
    }
  }
  for (const [field, name] of Object.entries(CONFIG_ENV)) {
    const value = sources.env?.[name];
    if (value === undefined) continue;
    set(merged, field, value);
    origin.set(field, name);
  }
  for (const [field, o] of Object.entries(sources.overrides ?? {})) {
    if (!o) continue;
    set(merged, field, o.value);
    origin.set(field, o.flag);
  }

  const config = plainToInstance(AgentConfig, merged);
  const errors = validateSync(config, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length) {
    throw new ConfigError(
      flatten(errors).map(({ field, message }) => ({
        field,
        message,
        source: origin.get(field) ?? origin.get(field.split('.')[0]!) ?? (sources.file ? `config file ${sources.file}` : 'default'),
      })),
    );
  }
  return config;
}

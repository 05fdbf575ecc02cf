// Job files for `srv6-agent submit`: YAML or JSON, one job or a list (or several YAML documents),
// validated locally with the agent's own DTOs. Problems point at the line they come from, so a
// person can fix the file without reading the DTOs. Pure apart from the parsing: unit-tested.
import { Document, isPair, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';

import { AnyJob, JOB_TYPES } from '../jobs/job.dto';
import { FieldError, JobValidationError, MAX_JOB_BYTES, validateJob } from '../jobs/job-validation';

/** A file that cannot be read as jobs at all (syntax, empty). */
export class JobFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobFileError';
  }
}

/** One field problem of one job, located in the file when possible. */
export interface JobProblem {
  /** 0-based index of the job in the file. */
  job: number;
  /** The job's type when it has a valid one. */
  type?: string;
  field: string;
  messages: string[];
  /** 1-based line in the file. */
  line?: number;
}

type Path = (string | number)[];
interface JobRef {
  doc: Document;
  prefix: Path;
}

export interface JobFile {
  /** What the file is called in messages ("tenant.yaml", "<stdin>"). */
  source: string;
  jobs: unknown[];
  /** True when the file held a list of jobs (or several documents): results are printed as a list. */
  list: boolean;
  /** The line (1-based) of a field of a job, if it can be found. */
  lineOf(job: number, field: string): number | undefined;
  /** Notes about likely YAML mistakes (e.g. an unquoted address ending in "::"), with their lines. */
  hints(): string[];
}

/** "tenant.routes[3].sids[0]" → ["tenant", "routes", 3, "sids", 0]; "(job)" → []. */
export function fieldPath(field: string): Path {
  if (field === '(job)') return [];
  const out: Path = [];
  for (const m of field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) out.push(m[1] !== undefined ? Number(m[1]) : m[2]!);
  return out;
}

function parseYaml(text: string, source: string): { docs: Document[]; lines: LineCounter } {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true }) as unknown as Document[];
  for (const d of Array.isArray(docs) ? docs : []) {
    const e = d.errors[0];
    if (e) {
      const at = e.pos ? lines.linePos(e.pos[0]) : undefined;
      throw new JobFileError(`${source}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML or JSON: ${e.message.split('\n')[0]}`);
    }
  }
  return { docs: Array.isArray(docs) ? docs : [], lines };
}

function jobsOfDocs(docs: Document[], source: string): { jobs: unknown[]; refs: JobRef[]; list: boolean } {
  const jobs: unknown[] = [];
  const refs: JobRef[] = [];
  // A document of nothing but comments (or an empty one after a trailing "---") holds no job.
  const used = docs.filter((d) => d.contents !== null && !(isScalar(d.contents) && d.contents.value === null && d.contents.source === ''));
  let sawList = false;
  for (const doc of used) {
    let value: unknown;
    try {
      // yaml's own bound on alias expansion (its default): a file of aliases to aliases cannot
      // grow a thousandfold in memory before the size check and validation below see it.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new JobFileError(`${source}: ${(e as Error).message}`);
    }
    if (Array.isArray(value)) {
      sawList = true;
      value.forEach((j, i) => {
        jobs.push(j);
        refs.push({ doc, prefix: [i] });
      });
    } else {
      jobs.push(value);
      refs.push({ doc, prefix: [] });
    }
  }
  return { jobs, refs, list: used.length > 1 || sawList };
}

/** JSON bigger than this gets no line numbers in its problems. */
export const MAX_LOCATED_JSON = 4 * 1024 * 1024;

/** Reads jobs from the text of a job file. Throws JobFileError when it is not YAML/JSON or holds no job. */
export function parseJobFile(text: string, source: string): JobFile {
  let jobs: unknown[];
  let list: boolean;
  let parsed: { refs: JobRef[]; lines: LineCounter } | undefined;

  // JSON is parsed as JSON (fast for big route lists); YAML, and JSON that does not parse, as YAML
  // (whose errors carry a line and column).
  const trimmed = text.trimStart();
  let json: unknown;
  let isJson = false;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      json = JSON.parse(text);
      isJson = true;
    } catch {
      /* YAML flow style, or broken JSON: the YAML parser says where */
    }
  }
  if (isJson) {
    list = Array.isArray(json);
    jobs = list ? (json as unknown[]) : [json];
  } else {
    const { docs, lines } = parseYaml(text, source);
    const r = jobsOfDocs(docs, source);
    ({ jobs, list } = r);
    parsed = { refs: r.refs, lines };
  }
  if (!jobs.length) throw new JobFileError(`${source}: holds no job (expected a job object, a list of them, or YAML documents separated by "---")`);

  const located = () => {
    if (!parsed) {
      // JSON: parsed again, as YAML, only now that a line is wanted (and not for huge files,
      // where the YAML parser would take seconds).
      if (text.length > MAX_LOCATED_JSON) return (parsed = { refs: [], lines: new LineCounter() });
      try {
        const { docs, lines } = parseYaml(text, source);
        parsed = { refs: jobsOfDocs(docs, source).refs, lines };
      } catch {
        parsed = { refs: [], lines: new LineCounter() };
      }
    }
    return parsed;
  };

  return {
    source,
    jobs,
    list,
    lineOf(job, field) {
      const { refs, lines } = located();
      const ref = refs[job];
      if (!ref) return undefined;
      const path = [...ref.prefix, ...fieldPath(field)];
      for (;;) {
        const node = path.length
          ? (ref.doc.getIn(path, true) as { range?: [number, number, number] } | undefined)
          : (ref.doc.contents as { range?: [number, number, number] } | null);
        if (node?.range) return lines.linePos(node.range[0]).line;
        if (!path.length) return undefined;
        path.pop(); // a missing field: point at the object that lacks it
      }
    },
    hints() {
      if (isJson) return [];
      const { refs, lines } = located();
      const out: string[] = [];
      for (const doc of new Set(refs.map((r) => r.doc))) {
        visit(doc, {
          Pair(_, pair) {
            if (!isPair(pair) || !isScalar(pair.key) || typeof pair.key.value !== 'string') return;
            const key = pair.key.value;
            const empty = pair.value === null || (isScalar(pair.value) && pair.value.value === null);
            if (empty && /^[0-9A-Fa-f:]*:$/.test(key) && key.includes(':') && pair.key.range) {
              const line = lines.linePos(pair.key.range[0]).line;
              out.push(
                `${source}:${line}: ${key}: was read as a mapping key because YAML ends a plain value at ":" + space or end of line; quote addresses that end in "::", e.g. "${key}:"`,
              );
            }
          },
        });
      }
      return out;
    },
  };
}

/** Validates every job of the file; the problems of all of them, each located. */
export function validateJobFile(file: JobFile): { jobs: AnyJob[]; problems: JobProblem[] } {
  const jobs: AnyJob[] = [];
  const problems: JobProblem[] = [];
  file.jobs.forEach((raw, i) => {
    const t = (raw as { type?: unknown } | null)?.type;
    const type = typeof t === 'string' && (JOB_TYPES as readonly string[]).includes(t) ? t : undefined;
    let errors: FieldError[] | undefined;
    const size = Buffer.byteLength(JSON.stringify(raw) ?? '');
    if (size > MAX_JOB_BYTES)
      errors = [{ field: '(job)', messages: [`the job is ${size} bytes of JSON, at most ${MAX_JOB_BYTES}: split it (e.g. routes jobs with add lists)`] }];
    else {
      try {
        jobs.push(validateJob(raw));
      } catch (e) {
        if (!(e instanceof JobValidationError)) throw e;
        errors = e.errors;
      }
    }
    for (const err of errors ?? []) problems.push(locate(file, i, type, missing(raw, err)));
  });
  return { jobs, problems };
}

/** A required field that is absent says so, instead of class-validator's list of every rule it breaks. */
function missing(raw: unknown, err: FieldError): FieldError {
  const path = fieldPath(err.field);
  if (!path.length) return err;
  let v: unknown = raw;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined;
  if (v !== undefined) return err;
  const choices = err.messages.find((m) => /one of/.test(m));
  return { field: err.field, messages: [`is required${choices ? ` (${choices.replace(/^\S+ must be /, '')})` : ''}`] };
}

export function locate(file: JobFile, job: number, type: string | undefined, err: FieldError): JobProblem {
  const p: JobProblem = { job, field: err.field, messages: err.messages };
  if (type) p.type = type;
  const line = file.lineOf(job, err.field);
  if (line !== undefined) p.line = line;
  return p;
}

/** "sids must be an IPv6 address" under field "...sids[0]" → "must be an IPv6 address". */
function clean(field: string, message: string): string {
  const last = [...fieldPath(field)].reverse().find((s) => typeof s === 'string');
  return typeof last === 'string' && message.startsWith(`${last} `) ? message.slice(last.length + 1) : message;
}

/** One line per problem, "FILE:LINE: job N (TYPE): FIELD: message; message". */
export function formatProblems(file: Pick<JobFile, 'source' | 'jobs'>, problems: JobProblem[]): string[] {
  const many = file.jobs.length > 1;
  return problems.map((p) => {
    const where = p.line !== undefined ? `${file.source}:${p.line}` : file.source;
    const job = many ? `job ${p.job + 1}${p.type ? ` (${p.type})` : ''}: ` : '';
    return `${where}: ${job}${p.field}: ${p.messages.map((m) => clean(p.field, m)).join('; ')}`;
  });
}

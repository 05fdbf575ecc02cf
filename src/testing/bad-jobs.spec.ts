import { refusedFields } from '../jobs/job-validation';
import { JOB_TYPES } from '../jobs/job.dto';
import { badJobCorpus, CATEGORIES, jobFieldPaths } from './bad-jobs';

const fieldErrors = refusedFields;

describe.each([
  ['without SRv6 (this host)', false],
  ['with SRv6 (the lab)', true],
])('the bad-job corpus %s', (_name, srv6) => {
  const corpus = badJobCorpus({ srv6 });

  it('has at least 1,000 jobs with unique names, and is the same every time', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(corpus.map((j) => j.name)).size).toBe(corpus.length);
    expect(JSON.stringify(badJobCorpus({ srv6 }))).toBe(JSON.stringify(corpus));
    expect(JSON.stringify(badJobCorpus({ srv6 }, 16))).not.toBe(JSON.stringify(corpus)); // the seed matters
  });

  it('is carried unchanged as JSON (what REST and Redis carry)', () => {
    // (own __proto__ keys included: JSON.parse makes them own properties again)
    const changed = corpus.filter((j) => JSON.stringify(JSON.parse(JSON.stringify(j.job))) !== JSON.stringify(j.job)).map((j) => j.name);
    expect(changed).toEqual([]);
  });

  it('covers every field of every job DTO, every job type and every category', () => {
    const fields = jobFieldPaths();
    for (const type of JOB_TYPES) {
      const targets = new Set(corpus.filter((j) => j.jobType === type).map((j) => j.target));
      const missing = ['type', ...fields[type]].filter((f) => !targets.has(f));
      expect({ type, missing }).toEqual({ type, missing: [] });
    }
    const categories = new Set(corpus.map((j) => j.category));
    expect(CATEGORIES.filter((c) => !categories.has(c))).toEqual(srv6 ? ['capability'] : []);
  });

  it('every job refused by validation is refused by validateJob naming its field', () => {
    const wrong = corpus
      .filter((j) => j.refusal.kind === 'field')
      .map((j) => ({ name: j.name, want: (j.refusal as { field: string }).field, got: fieldErrors(j.job) }))
      .filter((x) => !x.got.includes(x.want))
      .map((x) => `${x.name}: wants an error of ${x.want}, validateJob names ${x.got.length ? x.got.join(', ') : 'none (accepted)'}`);
    expect(wrong).toEqual([]);
  });

  it('every other job passes validation: the agent’s state or kernel refuses it', () => {
    const wrong = corpus
      .filter((j) => j.refusal.kind !== 'field')
      .map((j) => ({ name: j.name, got: fieldErrors(j.job) }))
      .filter((x) => x.got.length)
      .map((x) => `${x.name}: ${x.got.join(', ')}`);
    expect(wrong).toEqual([]);
  });
});

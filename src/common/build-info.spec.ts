// What --version reports: the build's record (written by scripts/build-info.sh), else the version
// in package.json; never anything that needs git at run time.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BUILD_INFO_FILE, readBuildInfo, versionText } from './build-info';

describe('readBuildInfo', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'srv6t-build-info-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'srv6-agent', version: '1.2.3' }));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('the build record: version and commit', () => {
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, BUILD_INFO_FILE), JSON.stringify({ version: '1.2.4', commit: '0123456789ab-dirty' }));
    expect(readBuildInfo(root)).toEqual({ version: '1.2.4', commit: '0123456789ab-dirty' });
  });

  it("without a record (or with a broken one): package.json's version, no commit", () => {
    expect(readBuildInfo(root)).toEqual({ version: '1.2.3' });
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, BUILD_INFO_FILE), '{ nope');
    expect(readBuildInfo(root)).toEqual({ version: '1.2.3' });
    writeFileSync(join(root, BUILD_INFO_FILE), JSON.stringify({ commit: '' }));
    expect(readBuildInfo(root)).toEqual({ version: '1.2.3' });
  });
});

describe('versionText', () => {
  it('one line for people, one JSON object with -j', () => {
    expect(versionText('ipft', { version: '1.2.3', commit: 'abc' }, false)).toBe('ipft 1.2.3 (commit abc)\n');
    expect(versionText('ipft', { version: '1.2.3' }, false)).toBe('ipft 1.2.3\n');
    expect(JSON.parse(versionText('srv6-agent', { version: '1.2.3' }, true, 'v22.1.0'))).toEqual({
      program: 'srv6-agent',
      version: '1.2.3',
      commit: null,
      node: 'v22.1.0',
    });
  });
});

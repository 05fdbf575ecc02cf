#!/usr/bin/env node
// Writes deploy/schema/srv6-job.schema.json from the job DTOs (npm run schema; src/jobs/job-schema.ts).
// Runs the TypeScript sources directly, transpiled on require, so it needs no build first.
'use strict';
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const ts = require('typescript');

const ROOT = resolve(__dirname, '..');
const { config } = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
require.extensions['.ts'] = (module, file) => {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { ...options, sourceMap: false }, fileName: file });
  module._compile(outputText, file);
};

const { JOB_SCHEMA_PATH, jobSchemaText } = require(join(ROOT, 'src/jobs/job-schema.ts'));
const out = join(ROOT, JOB_SCHEMA_PATH);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, jobSchemaText());
console.log(`wrote ${JOB_SCHEMA_PATH}`);

// Jest's node environment, plus the lab subset's name filter (netns-tests/lab/subset.txt) when
// SRV6_LAB_SUBSET is set: before the first test of a file runs, the tests its line does not select
// are taken out of the tree. Unlike `-t`, the regex is per file, and the tests left out are not
// reported at all (not as skipped), so the lab's counts are the tests it ran. Hooks of a describe
// block left without tests do not run (jest runs beforeAll/afterAll only where a test is enabled).
// A file whose regex selects nothing fails: "Your test suite must contain at least one test."
'use strict';
const { TestEnvironment } = require('jest-environment-node');
const subset = require('./subset');

const ROOT_BLOCK = 'ROOT_DESCRIBE_BLOCK';

function fullName(test) {
  const titles = [test.name];
  for (let p = test.parent; p && p.name !== ROOT_BLOCK; p = p.parent) titles.unshift(p.name);
  return titles.join(' ');
}

/** Removes the unselected tests under a describe block; true if any test is left. */
function prune(block, entry) {
  block.children = block.children.filter((child) => (child.type === 'describeBlock' ? prune(child, entry) : subset.selects(entry, fullName(child))));
  return block.children.length > 0;
}

class LabSubsetEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.entry = process.env.SRV6_LAB_SUBSET ? subset.entryFor(subset.load(), context.testPath) : undefined;
  }

  async handleTestEvent(event, state) {
    if (event.name === 'run_start' && this.entry?.pattern) prune(state.rootDescribeBlock, this.entry);
  }
}

module.exports = LabSubsetEnvironment;

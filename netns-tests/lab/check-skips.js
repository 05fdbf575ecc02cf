#!/usr/bin/env node
// After a lab run: no test may have skipped for a kernel feature that the lab kernel has.
//
//   node netns-tests/lab/check-skips.js <jest --json output> <kernel config of the lab kernel>
//
// Tests that need a feature skip by name, "… [skipped: kernel lacks X]" (src/testing/kernel-features.ts).
// On the host that is expected; in the lab it would hide a gap of the lab itself (a module missing
// from the initramfs, a mount missing in init.sh, a broken feature probe). X is looked up in the
// lab kernel's config (a CONFIG_* name directly, or one of the feature names below); a feature this
// file does not know fails too, so a new skip reason is mapped here before it can hide anything.
// Exit 0: nothing hidden; 1: a skip hides a lab gap, or the results are missing or unreadable.
'use strict';
const fs = require('node:fs');

// Feature name (lower case) → config options that must all be y or m for the lab kernel to have it.
const FEATURES = {
  vrf: ['CONFIG_NET_VRF'],
  vrftable: ['CONFIG_NET_VRF', 'CONFIG_IPV6_SEG6_LWTUNNEL'],
  'end.dt4': ['CONFIG_NET_VRF', 'CONFIG_IPV6_SEG6_LWTUNNEL'],
  'end.dt46': ['CONFIG_NET_VRF', 'CONFIG_IPV6_SEG6_LWTUNNEL'],
  seg6: ['CONFIG_IPV6_SEG6_LWTUNNEL'],
  seg6local: ['CONFIG_IPV6_SEG6_LWTUNNEL'],
  'nexthop.seg6': ['CONFIG_IPV6_SEG6_LWTUNNEL'],
  nexthop: ['CONFIG_IPV6'],
  veth: ['CONFIG_VETH'],
  dummy: ['CONFIG_DUMMY'],
  xdp: ['CONFIG_BPF_SYSCALL'],
  kprobe: ['CONFIG_KPROBES', 'CONFIG_KPROBE_EVENTS', 'CONFIG_BPF_EVENTS'],
  kprobes: ['CONFIG_KPROBES', 'CONFIG_KPROBE_EVENTS', 'CONFIG_BPF_EVENTS'],
  'kprobe-multi': ['CONFIG_FPROBE', 'CONFIG_BPF_EVENTS'],
  kprobe_multi: ['CONFIG_FPROBE', 'CONFIG_BPF_EVENTS'],
  fentry: ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS', 'CONFIG_BPF_JIT'],
  fexit: ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS', 'CONFIG_BPF_JIT'],
  tracepoint: ['CONFIG_BPF_EVENTS'],
  tp_btf: ['CONFIG_DEBUG_INFO_BTF', 'CONFIG_BPF_EVENTS'],
  btf: ['CONFIG_DEBUG_INFO_BTF'],
};

const SKIP = /\[skipped: kernel lacks ([^\]]+)\]/;

function main(argv) {
  const [jsonFile, configFile] = argv;
  if (!jsonFile || !configFile) {
    console.error('usage: check-skips.js <jest.json> <kernel config>');
    return 2;
  }
  let results, config;
  try {
    results = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (e) {
    console.error(`lab skip check: no jest results (${e.message}): the run did not finish`);
    return 1;
  }
  try {
    config = new Map(
      fs
        .readFileSync(configFile, 'utf8')
        .split('\n')
        .map((l) => l.match(/^(CONFIG_\w+)=(.*)$/))
        .filter(Boolean)
        .map((m) => [m[1], m[2]]),
    );
  } catch (e) {
    console.error(`lab skip check: cannot read the lab kernel's config (${e.message})`);
    return 1;
  }
  const enabled = (opt) => config.get(opt) === 'y' || config.get(opt) === 'm';

  const gaps = [];
  let skipped = 0;
  for (const file of results.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      const m = SKIP.exec(t.fullName ?? t.title ?? '');
      if (!m) continue;
      skipped++;
      const where = `${file.name.replace(/^.*?\/(dist\/)?(src|netns-tests)\//, '$2/')}: ${t.fullName}`;
      // "kernel lacks A, B": every feature named must be one the lab kernel lacks too.
      for (const feature of m[1].split(',').map((f) => f.trim())) {
        const opts = /^CONFIG_\w+$/.test(feature) ? [feature] : FEATURES[feature.toLowerCase()];
        if (!opts) gaps.push(`${where}\n    unknown feature "${feature}": map it in netns-tests/lab/check-skips.js`);
        else if (opts.every(enabled)) gaps.push(`${where}\n    the lab kernel has ${feature} (${opts.join(', ')})`);
      }
    }
  }
  if (gaps.length) {
    console.error(`lab skip check: FAILED: ${gaps.length} test(s) skipped in the lab for a feature its kernel has:`);
    for (const g of gaps) console.error(`  ${g}`);
    return 1;
  }
  console.log(`lab skip check: ok (${skipped} test(s) skipped for kernel features the lab kernel lacks)`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

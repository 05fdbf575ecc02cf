#!/usr/bin/env bash
# The lab tier: kernel-tier tests (src/**/*.kernel.ts, netns-tests/**/*.test.ts) inside the lab VM
# (Debian's stock 6.12 kernel: VRF, kprobes, fentry), in ONE boot. Arguments go to jest:
#
#   bash netns-tests/lab/run.sh                       the whole kernel tier (~20 min)
#   bash netns-tests/lab/run.sh --subset              the lab subset (netns-tests/lab/subset.txt):
#                                                     what `npm test` runs
#   bash netns-tests/lab/run.sh -t 'VRF'              tests whose name matches
#   bash netns-tests/lab/run.sh rtnetlink             test files whose path matches
#
# Exit code: jest's; 1 also when a test skipped "[skipped: kernel lacks X]" for an X the lab kernel
# has (check-skips.js). When the lab cannot run here (no qemu, no kernel package): non-zero, or 0
# with "lab tier skipped: <reason>" if LAB_OPTIONAL=1.
#
# Environment (and those of lab.sh: LAB_KERNEL, LAB_TIMEOUT, LAB_SHELL, LAB_OPTIONAL, ...):
#   LAB_NO_BUILD=1   do not run scripts/setup.sh first (the caller just did: scripts/test.sh)
#   LAB_COMPILED=1   run the compiled tests in dist/, not ts-jest (netns-tests/lab/jest.config.js)
#   LAB_KEEP=dir     keep the results (jest.json, kernel.config, exit-code) in dir
#   LAB_TIME_SCALE   SRV6_TEST_TIME_SCALE in the VM (default 10): tests scale their deadlines by it
#                    (src/testing/time-scale.ts); TCG is 10-40x slower than the host
#   LAB_TEST_TIMEOUT jest's default per-test timeout in the VM, ms (default 5000 x LAB_TIME_SCALE;
#                    explicit timeouts in a test file still win, scaled or not)
set -uo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$LAB_DIR/../.."

subset=()
if [[ ${1:-} == --subset ]]; then
  shift
  subset=(SRV6_LAB_SUBSET=1)
  node "$LAB_DIR/subset.js" files >/dev/null || exit 1 # a missing file: say so before booting
fi

if [[ ${LAB_NO_BUILD:-} != 1 ]]; then
  bash scripts/setup.sh || { echo "lab: the build (scripts/setup.sh) failed" >&2; exit 1; }
fi

if [[ -n ${LAB_KEEP:-} ]]; then
  out=$LAB_KEEP
  mkdir -p "$out" && rm -f "$out/jest.json"
else
  out=$(mktemp -d /tmp/srv6-lab-run.XXXXXX)
  trap 'rm -rf "$out"' EXIT
fi
export LAB_OUT=$out LAB_TIMEOUT=${LAB_TIMEOUT:-3300} # the subset takes 14-22 min; npm test (CI) must stay under 90

scale=${LAB_TIME_SCALE:-10}
[[ $scale =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "lab: LAB_TIME_SCALE=$scale is not a number" >&2; exit 2; }
timeout_ms=${LAB_TEST_TIMEOUT:-$(awk -v s="$scale" 'BEGIN { printf "%d", 5000 * s }')}
compiled=()
[[ ${LAB_COMPILED:-} == 1 ]] && compiled=(LAB_COMPILED=1)

# netns-tests/lab/jest.config.js: the project's kernel project (ts-jest, from the sources, exactly
# as on the host) with the subset's per-file name filter. ts-jest's transpiling is slow under TCG,
# so its cache lives in /tmp/lab-cache (= /var/cache/srv6-agent-lab/vm-cache, kept between boots).
# The project is read-only in the VM: --ci writes no snapshots. --forceExit: a leaked handle must
# not keep the VM up until LAB_TIMEOUT (the host tiers still report it). The VM's environment is
# clean (init.sh): what the tests need is passed here.
# lab.sh in the background so that INT/TERM reach it here (it stops its qemu on the way out);
# exec: $! is lab.sh itself, not a subshell waiting for it (bash forks one when a trap is set).
# A VM that dies without reporting (125: a guest kernel panic) runs once more: TCG's
# multi-threaded emulation sometimes executes stale code while the guest patches its own text
# (an "Oops: int3" in a function being live-patched by a BPF or tracing attach), which is the
# emulator's fault, not the test's. Said in the output; a second death fails the run.
#
# LAB_SHARDS=n boots n VMs at once, each running a share of the files of about equal lab time
# (subset.js shard, from durations.txt): single-threaded TCG keeps one host core busy per VM, so on
# this 2-core machine two VMs take about half as long as one. Each shard has its own results
# directory ($out/shard-i), jest cache and code cache; the results are merged into $out/jest.json.
shards=${LAB_SHARDS:-1}
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "lab: LAB_SHARDS=$shards is not a positive number" >&2; exit 2; }

boot() { # boot <shard-out> <shard-env> <cache-suffix> [jest args]: one VM, retried once if it dies
  local sout=$1 shard_env=$2 sfx=$3 rc attempt lab
  shift 3
  for attempt in 1 2; do
    (exec env LAB_OUT="$sout" LAB_CONSOLE_TAG="${shard_env#SRV6_LAB_SHARD=}" bash "$LAB_DIR/lab.sh" -- env SRV6_TEST_TIME_SCALE="$scale" SRV6_E2E_CODE_CACHE="/tmp/lab-cache/e2e-code$sfx" \
      ${shard_env:+"$shard_env"} "${subset[@]}" "${compiled[@]}" \
      node node_modules/jest/bin/jest.js -c netns-tests/lab/jest.config.js --selectProjects kernel \
      --runInBand --ci --forceExit --cacheDirectory "/tmp/lab-cache/jest$sfx" --testTimeout "$timeout_ms" \
      --json --outputFile /tmp/lab-out/jest.json "$@") <&0 &
    lab=$!
    trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 130' INT
    trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 143' TERM
    wait "$lab"
    rc=$?
    [[ $rc -eq 125 && $attempt -eq 1 ]] || break
    echo "lab: the VM${shard_env:+ of shard ${shard_env#SRV6_LAB_SHARD=}} died without reporting (guest kernel panic, see the console log above); running it once more" >&2
  done
  return "$rc"
}

if ((shards == 1)); then
  boot "$out" "" "" "$@"
  rc=$?
else
  [[ -n ${subset[*]} ]] && node "$LAB_DIR/subset.js" shards "$shards" | sed 's/^/lab: /' >&2
  pids=()
  for ((i = 1; i <= shards; i++)); do
    mkdir -p "$out/shard-$i" && rm -f "$out/shard-$i/jest.json"
    boot "$out/shard-$i" "SRV6_LAB_SHARD=$i/$shards" "-$i" --passWithNoTests "$@" &
    pids+=($!)
  done
  trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; exit 130' INT
  trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; exit 143' TERM
  rc=0
  for p in "${pids[@]}"; do
    wait "$p"
    r=$?
    ((r > rc)) && rc=$r
  done
  for f in kernel.config kernel-release unavailable; do [[ -f $out/shard-1/$f ]] && cp "$out/shard-1/$f" "$out/$f"; done
  # One jest.json over the shards (what test.sh and check-skips.js read); none if a shard has none.
  node -e '
    const fs = require("fs");
    const [out, n] = process.argv.slice(1);
    const parts = [];
    for (let i = 1; i <= +n; i++) {
      const f = `${out}/shard-${i}/jest.json`;
      if (!fs.existsSync(f)) { console.error(`lab: shard ${i}/${n} left no results`); process.exit(0); }
      parts.push(JSON.parse(fs.readFileSync(f, "utf8")));
    }
    const sum = (k) => parts.reduce((a, p) => a + (p[k] || 0), 0);
    const merged = { ...parts[0], testResults: parts.flatMap((p) => p.testResults), success: parts.every((p) => p.success) };
    for (const k of Object.keys(parts[0])) if (typeof parts[0][k] === "number" && k !== "startTime") merged[k] = sum(k);
    merged.startTime = Math.min(...parts.map((p) => p.startTime));
    fs.writeFileSync(`${out}/jest.json`, JSON.stringify(merged));
  ' "$out" "$shards"
fi
trap - INT TERM
[[ -f $out/unavailable ]] && exit "$rc" # lab.sh said why, and whether that is a failure

node "$LAB_DIR/check-skips.js" "$out/jest.json" "$out/kernel.config" || rc=1
if [[ -f $out/jest.json ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
    console.log(`lab (${process.argv[2]}): ${r.numPassedTests} passed, ${f} failed, ${r.numPendingTests} skipped`);
  ' "$out/jest.json" "$(cat "$out/kernel-release" 2>/dev/null)"
fi
exit "$rc"

#!/usr/bin/env bash
# Runs every test tier this machine supports (docs/testing.md):
#   lint    eslint and prettier --check (the whole suite only)
#   unit    no root
#   kernel  root: throwaway network namespaces on this machine's kernel
#   lab     root and qemu (installed on demand): the lab subset (netns-tests/lab/subset.txt) in one
#           boot of a VM with Debian's stock 6.12 kernel, for what this kernel lacks (VRF, kprobes,
#           fentry). If the lab cannot run here (no qemu after installing it, no kernel package,
#           LAB_SKIP=1) it is a named skip: "lab tier skipped: <reason>", also on the closing line.
# Arguments go to jest in every tier (with --passWithNoTests: a pattern may select no test of a tier).
# Exit status: 1 if any tier failed; the closing line counts all tiers: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

# Sweep namespaces left by test processes that died without cleaning up (never anyone else's).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^srv6t-' || true); do
  pid=$(echo "$ns" | awk -F- '{print $(NF-1)}')
  if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns" 2>/dev/null || true; fi
done

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
extra=()
(($#)) && extra=(--passWithNoTests)
declare -A took
lab_skip=
timed() { # timed <tier> <command...>: runs it, records its wall time
  local t0=$SECONDS rc
  "${@:2}"
  rc=$?
  took[$1]=$((SECONDS - t0))
  return $rc
}

# Lint and format (eslint.config.mjs, .prettierrc.json) when the whole suite runs, not for a pattern.
if ! (($#)); then
  timed lint bash -c 'npx --no-install eslint . && npx --no-install prettier --check . >/dev/null' || { echo "lint failed: npm run lint names the problems, npm run format fixes the layout" >&2; status=1; }
fi
timed unit npx --no-install jest --selectProjects unit --json --outputFile="$results/unit.json" "${extra[@]}" "$@" || status=1
if [[ $(id -u) -eq 0 ]]; then
  # --forceExit: a leaked handle (a queue, a socket) must not hang CI after the results are in
  timed kernel npx --no-install jest --selectProjects kernel --runInBand --forceExit --json --outputFile="$results/kernel.json" "${extra[@]}" "$@" || status=1
  # Every test that skips here for a kernel feature must run in the lab: listed in its subset.
  if [[ -f $results/kernel.json ]]; then node netns-tests/lab/subset.js cover "$results/kernel.json" || status=1; fi

  if [[ ${LAB_SKIP:-} == 1 ]]; then
    lab_skip="LAB_SKIP=1"
    echo "lab tier skipped: $lab_skip" >&2
  else
    # LAB_TIMEOUT: the VM is killed (a failure) if the subset hangs; it takes 14-22 min (docs/testing.md:
    # most of it the end-to-end suite), more while other VMs share the CPUs; 55 min keeps even a hung
    # run, with the other tiers, within CI's 90.
    # In the background so that INT/TERM reach it from here: it stops its qemu on the way out
    # (exec: $! is run.sh itself, not a subshell waiting for it).
    mkdir -p "$results/lab"
    t0=$SECONDS
    # One VM per core, up to four (each is one host thread of single-threaded TCG): the subset's
    # files split by their measured lab time (netns-tests/lab/durations.txt).
    cores=$(nproc 2>/dev/null || echo 1)
    shards=${LAB_SHARDS:-$((cores < 4 ? cores : 4))}
    (exec env LAB_NO_BUILD=1 LAB_OPTIONAL=1 LAB_KEEP="$results/lab" LAB_TIMEOUT="${LAB_TIMEOUT:-3300}" LAB_SHARDS="$shards" \
      bash netns-tests/lab/run.sh --subset "${extra[@]}" "$@") &
    lab=$!
    trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 130' INT
    trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 143' TERM
    wait "$lab" || status=1
    trap - INT TERM
    took[lab]=$((SECONDS - t0))
    if [[ -f $results/lab/unavailable ]]; then
      lab_skip=$(cat "$results/lab/unavailable")
    elif [[ ! -f $results/lab/jest.json ]]; then
      echo "lab tier FAILED: no results from the VM (see above)" >&2
      status=1
    fi
  fi
else
  echo "kernel tier skipped: needs root (network namespaces)" >&2
  lab_skip="needs root"
  echo "lab tier skipped: $lab_skip" >&2
fi

# A line per tier, then one plain closing line over all tiers.
for t in lint unit kernel lab; do [[ -n ${took[$t]:-} ]] && printf '%s tier: %dm%02ds\n' "$t" $((took[$t] / 60)) $((took[$t] % 60)); done
node -e '
const fs = require("fs");
const [dir, labSkip] = process.argv.slice(1);
const tiers = [["unit", "unit.json"], ["kernel", "kernel.json"], ["lab", "lab/jest.json"]];
let p = 0, f = 0, s = 0;
for (const [tier, file] of tiers) {
  if (!fs.existsSync(`${dir}/${file}`)) {
    // the lab ran (not a named skip) but left no results: the VM failed or timed out
    if (tier === "lab" && fs.existsSync(`${dir}/lab`) && !labSkip) { console.log("lab: no results (the VM run failed: see above)"); f += 1; }
    continue;
  }
  const r = JSON.parse(fs.readFileSync(`${dir}/${file}`, "utf8"));
  const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  console.log(`${tier}: ${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests} skipped`);
  p += r.numPassedTests; f += failed; s += r.numPendingTests;
}
console.log(`${p} passed, ${f} failed, ${s} skipped${labSkip ? ` (lab tier skipped: ${labSkip})` : ""}`);
' "$results" "$lab_skip"
exit $status

#!/usr/bin/env bash
# The lab tier: the kernel tier (src/**/*.kernel.ts, netns-tests/**/*.test.ts) inside the lab VM
# (Debian's stock 6.12 kernel: VRF, kprobes, fentry), in ONE boot. Arguments go to jest:
#
#   bash netns-tests/lab/run.sh                       everything
#   bash netns-tests/lab/run.sh -t 'VRF'              tests whose name matches
#   bash netns-tests/lab/run.sh rtnetlink             test files whose path matches
#
# Exit code: jest's; 1 also when a test skipped "[skipped: kernel lacks X]" for an X the lab kernel
# has (check-skips.js). When the lab cannot run here (no qemu, no kernel package): non-zero, or 0
# with "lab tier skipped: <reason>" if LAB_OPTIONAL=1.
#
# Environment (and those of lab.sh: LAB_KERNEL, LAB_TIMEOUT, LAB_SHELL, LAB_OPTIONAL, ...):
#   LAB_NO_BUILD=1   do not run scripts/setup.sh first (the caller just did: scripts/test.sh)
#   LAB_COMPILED=1   run the compiled tests in dist/ (netns-tests/lab/jest.config.js), not ts-jest
#   LAB_KEEP=dir     keep the results (jest.json, kernel.config, exit-code) in dir
#   LAB_TEST_TIMEOUT jest's default per-test timeout in the VM, ms (30000: TCG is 10-40x slower than
#                    the host; explicit timeouts in a test file still win)
set -uo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$LAB_DIR/../.."

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
export LAB_OUT=$out LAB_TIMEOUT=${LAB_TIMEOUT:-1500} # npm test must stay under 25 min

# The project's own jest.config.js (ts-jest): the tests run exactly as on the host. ts-jest's
# transpiling is slow under TCG, so its cache lives in /tmp/lab-cache (= /var/cache/srv6-agent-lab/
# vm-cache, kept between boots): warm, it costs what running dist/ costs. LAB_COMPILED=1 runs the
# compiled tests from dist/ instead (netns-tests/lab/jest.config.js): no faster once the cache is
# warm, stale when dist/ is, and a test that finds files relative to its __dirname looks elsewhere.
config=(-c jest.config.js)
[[ ${LAB_COMPILED:-} == 1 ]] && config=(-c netns-tests/lab/jest.config.js)
# The project is read-only in the VM: --ci writes no snapshots. --forceExit: a leaked handle must
# not keep the VM up until LAB_TIMEOUT (the host tiers still report it).
# lab.sh in the background so that INT/TERM reach it here (it stops its qemu on the way out).
bash "$LAB_DIR/lab.sh" -- node node_modules/jest/bin/jest.js "${config[@]}" --selectProjects kernel \
  --runInBand --ci --forceExit --cacheDirectory /tmp/lab-cache/jest --testTimeout "${LAB_TEST_TIMEOUT:-30000}" \
  --json --outputFile /tmp/lab-out/jest.json "$@" <&0 &
lab=$!
trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 130' INT
trap 'kill -TERM "$lab" 2>/dev/null; wait "$lab"; exit 143' TERM
wait "$lab"
rc=$?
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

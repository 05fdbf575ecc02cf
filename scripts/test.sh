#!/usr/bin/env bash
# Runs every test tier this machine supports: unit (no root), kernel (root: throwaway netns).
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
npx --no-install jest --selectProjects unit --json --outputFile="$results/unit.json" "$@" || status=1
if [[ $(id -u) -eq 0 ]]; then
  # --forceExit: a leaked handle (a queue, a socket) must not hang CI after the results are in
  npx --no-install jest --selectProjects kernel --runInBand --forceExit --json --outputFile="$results/kernel.json" "$@" || status=1
else
  echo "kernel tier skipped: needs root (network namespaces)" >&2
fi

# One plain closing line over all tiers.
node -e '
const fs = require("fs"); let p = 0, f = 0, s = 0;
for (const file of fs.readdirSync(process.argv[1])) {
  const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + file, "utf8"));
  p += r.numPassedTests; f += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); s += r.numPendingTests;
}
console.log(`${p} passed, ${f} failed, ${s} skipped`);
' "$results"
exit $status

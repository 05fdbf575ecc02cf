#!/usr/bin/env bash
# Writes what --version prints (src/common/build-info.ts): the package's version and the git commit
# of this checkout ("-dirty" with uncommitted changes to tracked files), so that a built tree
# never has to run git.   scripts/build-info.sh [OUT]   (default: dist/build-info.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/build-info.json}
commit=
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD)
  git diff --quiet HEAD -- 2>/dev/null || commit+=-dirty
fi
mkdir -p "$(dirname "$out")"
COMMIT=$commit node -e '
  const { version } = require("./package.json");
  const info = { version, ...(process.env.COMMIT ? { commit: process.env.COMMIT } : {}) };
  require("fs").writeFileSync(process.argv[1], JSON.stringify(info) + "\n");
' "$out"

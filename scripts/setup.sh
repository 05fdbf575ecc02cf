#!/usr/bin/env bash
# Installs what srv6-agent needs on Debian 12 and builds it. Quiet and quick when all is there.
# Used by `npm start`, `npm test` and `npm run bench`; safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }

# Debian packages: toolchain for the addon and BPF objects, and the tools the tests observe with.
APT_PKGS=(redis-server clang llvm libbpf-dev bpftool iproute2 make gcc g++ libc6-dev pkg-config
  iputils-ping procps systemd python3 ethtool dpkg-dev)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies: reinstalled when package-lock.json changes.
stamp=node_modules/.srv6-agent-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" >"$stamp"
fi

# Native addon: rebuilt when its sources are newer than the binary.
addon=build/Release/srv6_native.node
if [[ ! -f $addon || -n $(find native binding.gyp -newer "$addon" 2>/dev/null | head -1) ]]; then
  log "building the native addon"
  if ! out=$(npx --no-install node-gyp rebuild 2>&1); then
    echo "$out" >&2
    exit 1
  fi
fi

# BPF objects (make is incremental) and TypeScript (tsc is incremental).
if [[ -f bpf/Makefile ]]; then make -C bpf -s; fi
npx --no-install tsc -p tsconfig.json
bash scripts/build-info.sh # what --version prints: the commit, so the built tree never runs git

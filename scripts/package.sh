#!/usr/bin/env bash
# Builds the Debian package: deb/srv6-agent_<version>_<arch>.deb (`npm run package`).
#   scripts/package.sh [--no-build] [--fast] [--out DIR]
#     --no-build  package the tree as it is built now (tests: scripts/setup.sh just ran)
#     --fast      xz -1 instead of -6: 2 s instead of 15 for a 40 % larger file (tests)
#     --out DIR   where the .deb goes (default deb/, which git ignores)
# What the package installs, and where: docs/operations.md, "Install".
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev): installed like scripts/setup.sh installs its own.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

log() { echo "package: $*" >&2; }

build=1
level=6
out=deb
while (($#)); do
  case $1 in
    --no-build) build=0 ;;
    --fast) level=1 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) echo "usage: scripts/package.sh [--no-build] [--fast] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ((build)); then bash scripts/setup.sh; fi

t0=$SECONDS
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
# The oldest Node the package runs on: the major of package.json's "engines".
node_major=$(node -p '(/(\d+)/.exec(require("./package.json").engines?.node ?? "") ?? [])[1] ?? ""')
[[ -n $node_major ]] || { log 'package.json has no "engines": {"node": ">=N"}'; exit 1; }
if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
  export SOURCE_DATE_EPOCH
fi

staging=$(mktemp -d -t srv6-agent-package.XXXXXX)
trap 'rm -rf "$staging"' EXIT
root=$staging/root
opt=$root/opt/srv6-agent

# /opt/srv6-agent: the built tree (scripts/package-tree.js says what is in it), with its version.
node scripts/package-tree.js "$opt" >&2
bash scripts/build-info.sh "$opt/dist/build-info.json"

# Commands on PATH: wrappers that run the tree with the system's Node (Depends: nodejs).
install -d "$root/usr/bin"
for cmd in srv6-agent ipft; do
  sed "s/@NAME@/$cmd/g" deploy/debian/wrapper.sh >"$root/usr/bin/$cmd"
  chmod 0755 "$root/usr/bin/$cmd"
done

# Man pages from the packaged commands' --help, completions from their parsers' option tables.
node dist/src/cli/package-docs.js "$opt" "$staging/generated"
install -d "$root/usr/share/man/man8" "$root/usr/share/bash-completion/completions"
for page in "$staging"/generated/man/*.8; do
  gzip -9n <"$page" >"$root/usr/share/man/man8/$(basename "$page").gz"
done
install -m 0644 "$staging"/generated/completions/* "$root/usr/share/bash-completion/completions/"

install -D -m 0644 deploy/srv6-agent.service "$root/lib/systemd/system/srv6-agent.service"
install -D -m 0644 deploy/debian/rt_protos.conf "$root/etc/iproute2/rt_protos.d/srv6-agent.conf"
install -D -m 0644 deploy/config.example.json "$root/etc/srv6-agent/config.json"
# env may carry the Redis password: root only (as docs/operations.md installs it by hand).
install -D -m 0600 deploy/env.example "$root/etc/srv6-agent/env"
install -D -m 0644 deploy/debian/copyright "$root/usr/share/doc/srv6-agent/copyright"
# Job files to start from (the README's among them).
if [[ -d examples ]]; then
  install -d "$root/usr/share/doc/srv6-agent/examples"
  find examples -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' -o -name '*.md' \) \
    -exec install -m 0644 -t "$root/usr/share/doc/srv6-agent/examples" {} +
fi
# The job files' JSON Schema, where the examples' `$schema=../deploy/schema/...` line points.
if [[ -d deploy/schema ]]; then
  install -d "$root/usr/share/doc/srv6-agent/deploy/schema"
  install -m 0644 -t "$root/usr/share/doc/srv6-agent/deploy/schema" deploy/schema/*.json
fi

# Native addons without their debugging symbols.
if command -v strip >/dev/null; then find "$opt" -name '*.node' -type f -exec strip --strip-unneeded {} +; fi

# Lintian: what is so on purpose (see the file), and a changelog entry naming the build.
install -D -m 0644 deploy/debian/lintian-overrides "$root/usr/share/lintian/overrides/srv6-agent"
maintainer=${DEB_MAINTAINER:-srv6-agent maintainers <srv6-agent@localhost>}
commit=$(node -p 'require(process.argv[1]).commit ?? "unknown"' "$opt/dist/build-info.json")
printf 'srv6-agent (%s) unstable; urgency=medium\n\n  * Built by scripts/package.sh from commit %s.\n\n -- %s  %s\n' \
  "$version" "$commit" "$maintainer" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")" |
  gzip -9n >"$root/usr/share/doc/srv6-agent/changelog.gz"

# DEBIAN/: control (shared libraries of the native addons → Depends), conffiles, scripts, md5sums.
install -d "$root/DEBIAN"
mkdir -p "$staging/debian" && printf 'Source: srv6-agent\n\nPackage: srv6-agent\nArchitecture: any\n' >"$staging/debian/control"
mapfile -t addons < <(find "$opt" -name '*.node' -type f)
shlibs=$(cd "$staging" && dpkg-shlibdeps -O "${addons[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || { log "dpkg-shlibdeps found no libraries for ${addons[*]}"; exit 1; }
size=$(du -sk "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@DEPENDS@|nodejs (>= $node_major), iproute2, $shlibs|" deploy/debian/control.in >"$root/DEBIAN/control"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/srv6-agent_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz -z"$level" --build "$root" "$deb" >/dev/null
files=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -vc '/$')
log "$deb: $(du -h "$deb" | cut -f1), $files files, built in $((SECONDS - t0)) s"
echo "$deb"

#!/usr/bin/env bash
# Runs one command inside the lab VM: qemu (TCG) booting a stock Debian kernel whose root is this
# machine's root, shared read-only over 9p. Streams the console, exits with the command's exit code.
#
#   netns-tests/lab/lab.sh [--] command [args...]     (runs in the current directory, inside the VM)
#
#   host                                       VM (qemu -accel tcg,thread=single, no network device)
#   /var/cache/srv6-agent-lab/                 kernel: Debian's linux-image-6.12.*-amd64 (trixie)
#     apt/trixie/     private apt state        initramfs: busybox-static + modules + init.sh
#     kernels/<pkg>/  dpkg -x of the kernel    /  = host /, read-only (9p "hostroot", cache=loose)
#     initramfs/<kver>-<hash>.cpio.gz          /tmp /run /dev/shm = tmpfs; bpffs, tracefs mounted
#     logs/           console logs             /tmp/lab-out = $LAB_OUT on the host (9p "labout", rw)
#     vm-cache/       kept between boots       /tmp/lab-cache = vm-cache/ (9p "labcache", rw)
#
# Environment:
#   LAB_KERNEL=6.12|6.1   kernel series (6.12 from Debian trixie, 6.1 = Debian 12's own); default 6.12
#   LAB_TIMEOUT=seconds   kill the VM after this long (default 1800; 0 = never)
#   LAB_SHELL=1           after the command (if any), a root shell on the console; no timeout
#   LAB_OPTIONAL=1        if the lab cannot run here (no qemu, no kernel), say so and exit 0
#   LAB_OUT=dir           the writable export (else a temporary directory): exit-code, results
#   LAB_EXTRA_MODULES     more kernel modules for the initramfs (names, with their dependencies)
#   LAB_REFRESH=1         look for a newer kernel package (otherwise the cached one is used)
#   LAB_9P_CACHE=none     no guest caching of the host root (default loose: ~8x faster node start)
#   LAB_CONSOLE_TAG       a tag put before every line this VM prints (run.sh: the shard, "1/2")
#   LAB_CACHE, LAB_MEM (MiB, 2048), LAB_CPUS (2); LAB_ACCEL, LAB_CPU, LAB_APPEND for experiments
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=$(cd "$LAB_DIR/../.." && pwd) # exported uncached: it may change during a run
CACHE=${LAB_CACHE:-/var/cache/srv6-agent-lab}
SERIES=${LAB_KERNEL:-6.12}
TIMEOUT=${LAB_TIMEOUT:-1800}
MODULES=(virtio_pci netfs 9pnet 9pnet_virtio 9p veth vrf ${LAB_EXTRA_MODULES:-})
BUILDER=3 # bump when the initramfs layout made below changes
[[ ${1:-} == -- ]] && shift

TAG=${LAB_CONSOLE_TAG:+[$LAB_CONSOLE_TAG] } # run.sh's shard "i/n": on every line of this VM's, when several run at once
log() { echo "lab: $TAG$*" >&2; }
t0=$EPOCHREALTIME
phase_start=$t0
phase() { # phase <name>: prints how long the phase that just ended took
  local now=$EPOCHREALTIME
  log "$(awk -v a="$now" -v b="$phase_start" -v n="$1" 'BEGIN { printf "%-24s %6.1fs", n, a - b }')"
  phase_start=$now
}
# The lab cannot run on this machine: a clear line, and exit 0 only when the caller said it may.
unavailable() {
  [[ -n ${OUT:-} ]] && echo "$*" >"$OUT/unavailable"
  if [[ ${LAB_OPTIONAL:-} == 1 ]]; then
    echo "lab tier skipped: $*"
    exit 0
  fi
  echo "lab tier cannot run: $* (LAB_OPTIONAL=1 turns this into a skip)" >&2
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then OUT=${LAB_OUT:-}; unavailable "needs root (apt, /var/cache)"; fi
if [[ ${LAB_SHELL:-} != 1 && $# -eq 0 ]]; then
  echo "usage: $0 [--] command [args...]   (or LAB_SHELL=1 $0 for a shell)" >&2
  exit 2
fi

# The writable export: command in, exit code and results out.
if [[ -n ${LAB_OUT:-} ]]; then
  OUT=$LAB_OUT
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d /tmp/srv6-lab.XXXXXX)
  own_out=1
fi
rm -f "$OUT/exit-code" "$OUT/unavailable" "$OUT/timed-out"

qpid= wdpid= conpid=
cleanup() {
  if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
    log "stopping qemu (pid $qpid)"
    kill -TERM "$qpid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$qpid" 2>/dev/null
  fi
  [[ -n $wdpid ]] && kill -TERM "$wdpid" 2>/dev/null
  [[ -n ${own_out:-} ]] && rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$CACHE"/{apt,kernels,initramfs,logs,vm-cache} || unavailable "cannot create $CACHE"
exec {lockfd}>"$CACHE/.lock"
flock "$lockfd" # one runner at a time fetches and builds; released before the boot

# ---- 1. tools ---------------------------------------------------------------------------------
need=()
for p in qemu-system-x86 busybox-static cpio xz-utils kmod; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/dev/null ||
    unavailable "cannot install ${need[*]} with apt-get"
fi
command -v qemu-system-x86_64 >/dev/null || unavailable "no qemu-system-x86_64 after installing qemu-system-x86"
[[ -x /bin/busybox ]] || unavailable "no /bin/busybox after installing busybox-static"
phase tools

# ---- 2. kernel --------------------------------------------------------------------------------
# The Debian mirror this machine's apt uses (the URI that serves its own release), never another.
debian_mirror() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -f $f ]] || continue
      sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v cn="$codename" '$1 == "deb" && $3 == cn { print $2 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f $f ]] || continue
      grep -v '^[[:space:]]*#' "$f" | awk -v cn="$codename" -v RS= '{
        uri = ""; ok = 0; deb = 0; off = 0
        n = split($0, l, "\n")
        for (i = 1; i <= n; i++) {
          if (l[i] ~ /^URIs:/) { split(l[i], u, /[ \t]+/); uri = u[2] }
          if (l[i] ~ /^Suites:/) { m = split(l[i], s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] == cn) ok = 1 }
          if (l[i] ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) deb = 1
          if (l[i] ~ /^Enabled:[ \t]*no/) off = 1
        }
        if (uri != "" && ok && deb && !off) print uri
      }'
    done
  } | head -1
}

kdir=
fetch_kernel() {
  local ptr=$CACHE/kernel-$SERIES
  if [[ ${LAB_REFRESH:-} != 1 && -s $ptr && -f $CACHE/kernels/$(cat "$ptr")/.complete ]]; then
    kdir=$CACHE/kernels/$(cat "$ptr")
    return 0
  fi
  local pattern apt=()
  case $SERIES in
  6.12)
    # A private apt state: a sources list with Debian trixie main only, lists of its own.
    local mirror a=$CACHE/apt/trixie
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || { log "no Debian mirror found in /etc/apt/sources.list*"; return 1; }
    mkdir -p "$a"/{lists/partial,cache/archives/partial,parts,prefs}
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$a/sources.list"
    : >"$a/status"
    apt=(-o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=$a/parts"
      -o "Dir::Etc::Preferences=$a/prefs/none" -o "Dir::Etc::PreferencesParts=$a/prefs"
      -o "Dir::State::Lists=$a/lists" -o "Dir::State::status=$a/status" -o "Dir::Cache=$a/cache"
      -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o APT::Architecture=amd64)
    pattern='^linux-image-6\.12\.[^-]*-amd64$' # not -dbg, -unsigned, cloud-, rt-
    log "looking for the newest Debian trixie 6.12 kernel on $mirror"
    ;;
  6.1)
    pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' # Debian 12's own, from this machine's sources
    log "looking for the newest Debian 12 6.1 kernel"
    ;;
  *)
    log "LAB_KERNEL=$SERIES: known series are 6.12 and 6.1"
    return 1
    ;;
  esac
  apt-get "${apt[@]}" update -qq >/dev/null || { log "apt-get update failed"; return 1; }
  local pkg
  pkg=$(apt-cache "${apt[@]}" search --names-only "$pattern" | awk '{ print $1 }' | sort -V | tail -1)
  [[ -n $pkg ]] || { log "no package matches $pattern"; return 1; }
  # Already cached (LAB_REFRESH found nothing newer, or another series' run fetched it): no download.
  local have
  have=$(apt-cache "${apt[@]}" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's|^Filename: .*/\(.*\)\.deb$|\1|p' | head -1)
  if [[ -n $have && -f $CACHE/kernels/$have/.complete ]]; then
    kdir=$CACHE/kernels/$have
    echo "$have" >"$ptr"
    log "newest is $have: cached already"
    return 0
  fi
  log "downloading $pkg"
  local dl
  dl=$(mktemp -d "$CACHE/kernels/.dl.XXXXXX")
  chown _apt "$dl" 2>/dev/null # apt downloads as _apt where it can
  (cd "$dl" && apt-get "${apt[@]}" download -qq "$pkg") >/dev/null || { log "apt-get download $pkg failed"; rm -rf "$dl"; return 1; }
  local deb
  deb=$(ls "$dl"/*.deb)
  local name
  name=$(basename "$deb" .deb)
  kdir=$CACHE/kernels/$name
  rm -rf "$kdir"
  dpkg -x "$deb" "$dl/root" && mv "$dl/root" "$kdir" || { log "dpkg -x $deb failed"; rm -rf "$dl"; return 1; }
  rm -rf "$dl"
  # depmod -b wants <base>/lib/modules: trixie ships them under usr/lib (merged /usr).
  [[ -e $kdir/lib ]] || ln -s usr/lib "$kdir/lib"
  touch "$kdir/.complete"
  echo "$name" >"$ptr"
  log "cached $name ($(du -sh "$kdir" | cut -f1))"
}
fetch_kernel || unavailable "cannot fetch the Debian $SERIES kernel package (see above)"
kver=$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -1)")
vmlinuz=$kdir/boot/vmlinuz-$kver
[[ -f $vmlinuz && -f $kdir/boot/config-$kver ]] || unavailable "the kernel package in $kdir lacks boot/vmlinuz-$kver"
cp "$kdir/boot/config-$kver" "$OUT/kernel.config"
echo "$kver" >"$OUT/kernel-release"
phase "kernel $kver"

# ---- 3. initramfs -----------------------------------------------------------------------------
key=$({
  cat "$LAB_DIR/init.sh"
  echo "${MODULES[*]} $BUILDER $kdir"
  dpkg-query -W busybox-static
} | sha256sum | cut -c1-16)
initrd=$CACHE/initramfs/$kver-$key.cpio.gz
if [[ ! -s $initrd ]]; then
  log "building the initramfs (modules: ${MODULES[*]})"
  [[ -f $kdir/lib/modules/$kver/modules.dep ]] || depmod -b "$kdir" "$kver" || unavailable "depmod -b $kdir $kver failed"
  st=$(mktemp -d "$CACHE/initramfs/.build.XXXXXX")
  mkdir -p "$st"/{bin,dev,etc,lib/modules,mnt,proc,sys,tmp}
  cp /bin/busybox "$st/bin/busybox"
  install -m 0755 "$LAB_DIR/init.sh" "$st/init"
  mknod -m 600 "$st/dev/console" c 5 1
  : >"$st/etc/lab-modules"
  ok=1
  for m in "${MODULES[@]}"; do
    deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>&1) || { log "module $m: $deps"; ok=; continue; }
    while read -r kind path _; do
      [[ $kind == insmod ]] || continue # "builtin <name>": nothing to load
      f=$(basename "$path")
      f=${f%.xz} f=${f%.zst} f=${f%.gz}
      grep -qx "$f" "$st/etc/lab-modules" && continue
      case $path in
      *.xz) xz -dc "$path" >"$st/lib/modules/$f" ;;
      *.zst) zstd -qdc "$path" >"$st/lib/modules/$f" ;;
      *.gz) gzip -dc "$path" >"$st/lib/modules/$f" ;;
      *) cp "$path" "$st/lib/modules/$f" ;;
      esac || ok=
      echo "$f" >>"$st/etc/lab-modules"
    done <<<"$deps"
  done
  if [[ -z $ok ]]; then rm -rf "$st"; unavailable "cannot collect the modules ${MODULES[*]} from $kver"; fi
  (cd "$st" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$st"
  [[ -s $initrd ]] || unavailable "building the initramfs failed"
  # Older initramfs images of this kernel are stale (their init.sh or module list changed).
  for old in "$CACHE/initramfs/$kver"-*.cpio.gz; do [[ $old == "$initrd" ]] || rm -f "$old"; done
fi
phase initramfs
flock -u "$lockfd"

# ---- 4. boot ----------------------------------------------------------------------------------
{
  echo "cd $(printf '%q' "$PWD") || exit 125"
  (($#)) && printf 'exec' && printf ' %q' "$@" && echo
} >"$OUT/cmd.sh"
(($#)) || : >"$OUT/cmd.sh"
if [[ ${LAB_SHELL:-} == 1 ]]; then echo shell >"$OUT/mode"; else echo run >"$OUT/mode"; fi
echo "${CI:-}" >"$OUT/ci"
echo "$PWD" >"$OUT/cwd"
echo "$kdir" >"$OUT/modules-root" # modprobe -d: autoloading of any module of the package

consolelog=$CACHE/logs/console-$(date +%Y%m%d-%H%M%S)-$$.log
ls -1t "$CACHE"/logs/console-*.log 2>/dev/null | tail -n +20 | xargs -r rm -f
# setpriv --pdeathsig: qemu dies with this script even when it is killed with SIGKILL.
pdeath=()
setpriv --help 2>/dev/null | grep -q pdeathsig && pdeath=(setpriv --pdeathsig KILL --)
# Single-threaded TCG: with one host thread per vCPU (thread=multi) a vCPU sometimes ran code the
# other had just patched (a static key, text_poke_bp) from a stale translation, and the guest
# died ("Oops: int3" in netif_rx_internal, 2026-11-26); two vCPUs are kept for SMP behaviour.
qemu=("${pdeath[@]}" qemu-system-x86_64 -accel ${LAB_ACCEL:-tcg,thread=single} -cpu ${LAB_CPU:-max} -m "${LAB_MEM:-2048}" -smp "${LAB_CPUS:-2}"
  -kernel "$vmlinuz" -initrd "$initrd" -append "console=ttyS0 quiet panic=-1 mitigations=off lab.cache=${LAB_9P_CACHE:-loose} lab.project=$PROJECT ${LAB_APPEND:-}"
  -nographic -no-reboot -nic none
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$PROJECT,mount_tag=project,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$OUT,mount_tag=labout,security_model=none,multidevs=remap"
  -virtfs "local,path=$CACHE/vm-cache,mount_tag=labcache,security_model=none,multidevs=remap")
[[ -d $PROJECT/node_modules ]] &&
  qemu+=(-virtfs "local,path=$PROJECT/node_modules,mount_tag=nodemodules,security_model=none,readonly=on,multidevs=remap")
if [[ ${LAB_SHELL:-} == 1 ]]; then log "booting $kver (interactive; Ctrl-A x ends qemu)"; else log "booting $kver (console log: $consolelog)"; fi
if [[ ${LAB_SHELL:-} == 1 ]]; then
  # Interactive: the terminal is the serial console (Ctrl-A x ends qemu); no timeout.
  "${qemu[@]}" <&0 &
  qpid=$!
  wait "$qpid"
else
  exec {confd}> >(sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | tee "$consolelog" | sed -u "s|^|$TAG|")
  conpid=$!
  "${qemu[@]}" </dev/null >&"$confd" 2>&1 &
  qpid=$!
  exec {confd}>&-
  if ((TIMEOUT > 0)); then
    ( # the watchdog: ends with this script (never outlives it to kill a reused pid)
      main=$$ deadline=$((SECONDS + TIMEOUT))
      while ((SECONDS < deadline)); do
        sleep 1
        kill -0 "$main" 2>/dev/null && kill -0 "$qpid" 2>/dev/null || exit 0
      done
      grep -q qemu-system "/proc/$qpid/cmdline" 2>/dev/null || exit 0
      echo "lab: timeout after ${TIMEOUT}s: killing qemu (pid $qpid)" >&2
      : >"$OUT/timed-out"
      kill -TERM "$qpid" 2>/dev/null
      sleep 5
      kill -KILL "$qpid" 2>/dev/null
    ) &
    wdpid=$!
  fi
  wait "$qpid"
  qrc=$?
  wait "$conpid" 2>/dev/null
fi
qpid=
phase "boot + command"

if [[ -f $OUT/timed-out ]]; then
  log "FAILED: the VM was killed after ${TIMEOUT}s (LAB_TIMEOUT); console log: $consolelog"
  exit 124
fi
if [[ -s $OUT/exit-code ]]; then
  rc=$(cat "$OUT/exit-code")
elif [[ -f $consolelog ]] && rc=$(grep -a -o '^LAB-EXIT [0-9]*' "$consolelog" | tail -1 | cut -d' ' -f2) && [[ -n $rc ]]; then
  :
else
  why=$(grep -a -m1 -o -E '(Oops|BUG|Kernel panic)[^\r]*' "$consolelog" 2>/dev/null)
  log "FAILED: the VM ended (qemu exit ${qrc:-?}) without reporting an exit code${why:+ (the guest kernel: $why)}; console log: $consolelog"
  exit 125
fi
log "command exited $rc (lab total $(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')s)"
exit "$rc"

#!/bin/busybox sh
# /init of the lab VM's initramfs (built by netns-tests/lab/lab.sh; its hash is part of the cache key).
#
# stage 1, in the initramfs (busybox):   proc sys devtmpfs; insmod /etc/lab-modules in order (9p,
#   veth, vrf, their dependencies); the host root over 9p read-only at /mnt/root, and inside it
#   proc sys dev devpts tmpfs(/tmp /run /dev/shm) bpffs tracefs debugfs cgroup2, the project
#   (export "project", uncached, at its own path: under /tmp too) and the writable
#   exports "labout" at /tmp/lab-out (this run's command and results) and "labcache" at
#   /tmp/lab-cache (kept between boots); then pid 1 chroots into it:
# stage 2, in the host's root:   loopback up; module autoloading from the cached kernel package
#   (/proc/sys/kernel/modprobe → /run/lab-bin/modprobe = modprobe -d <package root>); runs
#   /tmp/lab-out/cmd.sh with a clean environment; its exit code goes to /tmp/lab-out/exit-code and
#   the console ("LAB-EXIT <code>"); LAB_SHELL gives a shell after it; then power off.
# Any failure of the setup ends as LAB-EXIT 125.
R=/mnt/root
O=/tmp/lab-out

say() { echo "lab-init: $*"; }
finish() { # finish <code> [root prefix]
  [ -d "$2$O" ] && echo "$1" >"$2$O/exit-code"
  sync
  echo "LAB-EXIT $1"
  /bin/busybox poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 10
  exit "$1" # a dead init panics; panic=-1 with qemu -no-reboot ends the VM anyway
}
die() {
  say "FAILED: $*"
  finish 125 "$root"
}

if [ "$1" != stage2 ]; then
  root=$R
  /bin/busybox --install -s /bin
  export PATH=/bin
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  echo 4 >/proc/sys/kernel/printk # kernel warnings still reach the console, chatter does not
  for m in $(cat /etc/lab-modules); do
    insmod "/lib/modules/$m" || die "insmod $m"
  done
  mkdir -p $R
  opts=trans=virtio,version=9p2000.L,msize=512000
  # cache=loose (lab.cache= on the kernel command line, default from lab.sh): the root is read-only
  # and nobody writes it from inside, and caching it makes node and jest start ~8x faster over 9p.
  cache=$(sed -n 's/.*lab\.cache=\([a-z]*\).*/\1/p' /proc/cmdline)
  mount -t 9p -o "$opts,ro${cache:+,cache=$cache}" hostroot $R || die "mounting the host root over 9p"
  mount -t proc proc $R/proc || die "proc"
  mount -t sysfs sysfs $R/sys || die "sysfs"
  mount -t devtmpfs devtmpfs $R/dev || die "devtmpfs"
  mkdir -p $R/dev/pts $R/dev/shm
  mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
  mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
  mount -t tmpfs -o mode=1777 tmpfs $R/tmp || die "tmpfs /tmp"
  mount -t tmpfs -o mode=755 tmpfs $R/run || die "tmpfs /run" # ip netns add: /run/netns, bind mounts
  mkdir -p $R/run/netns $R/run/lock $R/run/lab-bin $R$O
  mount -t bpf -o mode=700 bpf $R/sys/fs/bpf || die "bpffs"
  mount -t tracefs tracefs $R/sys/kernel/tracing || die "tracefs"
  mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
  mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
  # The project, after the tmpfs mounts (a checkout under /tmp, a CI clone, would be hidden by
  # them otherwise), and not cached: others may edit it during a run, and a loose cache then reads
  # stale sizes (NUL bytes); its node_modules is cached again (lab.project= from lab.sh).
  project=$(sed -n 's/.*lab\.project=\([^ ]*\).*/\1/p' /proc/cmdline)
  if [ -n "$project" ]; then
    mkdir -p $R$project 2>/dev/null # on a tmpfs; elsewhere it exists already (the host's root)
    mount -t 9p -o "$opts,ro" project $R$project || die "mounting the project over 9p"
    [ -d $R$project/node_modules ] && { mount -t 9p -o "$opts,ro,cache=${cache:-none}" nodemodules $R$project/node_modules || die "node_modules"; }
  fi
  mount -t 9p -o "$opts,rw" labout $R$O || die "mounting the results export"
  mkdir -p $R/tmp/lab-cache # kept between boots: jest's transform cache (run.sh)
  mount -t 9p -o "$opts,rw" labcache $R/tmp/lab-cache || die "mounting the cache export"
  cp /init $R/run/lab-init
  say "$(uname -r) up in $(cut -d' ' -f1 /proc/uptime)s"
  exec chroot $R /bin/busybox sh /run/lab-init stage2
  die "chroot $R"
fi

# ---- stage 2: pid 1, chrooted into the host's root ----
root=
export PATH=/run/lab-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /
hostname lab
ip link set lo up
moddir=$(cat $O/modules-root 2>/dev/null)
if [ -n "$moddir" ] && [ -d "$moddir" ]; then
  printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$moddir" >/run/lab-bin/modprobe
  chmod 755 /run/lab-bin/modprobe
  echo /run/lab-bin/modprobe >/proc/sys/kernel/modprobe
fi

# A clean environment, as a login would give; HOME and every cache on tmpfs.
env_clean() {
  /usr/bin/env -i PATH="$PATH" HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 LAB=1 CI="$(cat $O/ci 2>/dev/null)" \
    npm_config_cache=/tmp/npm-cache XDG_CACHE_HOME=/tmp/cache "$@"
}
rc=0
if [ -s $O/cmd.sh ]; then
  env_clean TERM=dumb /bin/bash $O/cmd.sh </dev/null
  rc=$?
fi
if [ "$(cat $O/mode 2>/dev/null)" = shell ]; then
  say "command exited $rc; LAB_SHELL: a root shell in the lab (exit or Ctrl-D powers off)"
  cd "$(cat $O/cwd 2>/dev/null)" 2>/dev/null || cd /
  env_clean TERM=vt100 /bin/busybox setsid /bin/busybox cttyhack /bin/bash -i
fi
finish "$rc"

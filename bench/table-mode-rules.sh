#!/bin/bash
# Per-packet cost of table mode's policy rules, on real packets through a HV namespace (ADR 0011).
#
#   rb-a (a0) ── ul0 [rb-hv] ul1 ── (b0) rb-b      + N tenant taps t0..t(N-1) (veths) on rb-hv
#
# Rule layouts, both families (built with ip -batch, as the agent would leave them):
#   none    no tenant rules (the floor)
#   before  0 local, 1000 iif t<i> lookup <table>          (table mode until ADR 0011)
#   moved   1000 tenant rules, 1001 local                  (the local rule moved, no jump)
#   goto    998 iif lo|ul0|ul1 goto 1001, 999 fe80::/64 and ff00::/8 lookup local (IPv6),
#           1000 tenant rules, 1001 local                  (ADR 0011)
# Measured: the sender's CPU time per unconnected 64-byte UDP sendto() in a Python loop, median of
# REPS runs of COUNT packets. A veth hands a packet on in the sender's softirq, so that CPU time
# holds the HV's routing too (tick accounting charges softirq to the task it interrupts); CPU time
# rather than wall time, so other load on the machine does not count. Columns: a0 → b0 forwarded
# by the HV, a0 → the HV's ul0 address, the HV's own packets to b0 (bound to a source address:
# IPv6 source selection would scan every interface). Run as root: N=1000 bench/table-mode-rules.sh
set -euo pipefail
N=${N:-1000}; COUNT=${COUNT:-100000}; REPS=${REPS:-5}; SUF=${SUF:-$$}
A=rb-a-$SUF; HV=rb-hv-$SUF; B=rb-b-$SUF
cleanup() { for p in ${PIDS:-}; do kill $p 2>/dev/null || true; done; ip netns del $A 2>/dev/null || true; ip netns del $HV 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 130" INT TERM
ip netns add $A; ip netns add $HV; ip netns add $B
for ns in $A $HV $B; do ip -n $ns link set lo up; ip netns exec $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
ip -n $HV link add ul0 type veth peer name a0 netns $A
ip -n $HV link add ul1 type veth peer name b0 netns $B
ip -n $HV addr add 172.31.0.1/24 dev ul0; ip -n $HV addr add fc00:f::1/64 dev ul0 nodad
ip -n $HV addr add 172.30.0.1/24 dev ul1; ip -n $HV addr add fc00:e::1/64 dev ul1 nodad
ip -n $A addr add 172.31.0.10/24 dev a0; ip -n $A addr add fc00:f::a/64 dev a0 nodad
ip -n $B addr add 172.30.0.10/24 dev b0; ip -n $B addr add fc00:e::b/64 dev b0 nodad
for x in "$HV ul0" "$HV ul1" "$A a0" "$B b0"; do set -- $x; ip -n $1 link set $2 up; done
ip -n $A route add default via 172.31.0.1; ip -n $A -6 route add default via fc00:f::1
ip -n $B route add default via 172.30.0.1; ip -n $B -6 route add default via fc00:e::1
ip netns exec $HV sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
# static neighbours: no resolution during the runs
macb=$(ip -n $B -j link show b0 | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])')
ip -n $HV neigh replace 172.30.0.10 lladdr $macb dev ul1 nud permanent; ip -n $HV neigh replace fc00:e::b lladdr $macb dev ul1 nud permanent
mach=$(ip -n $HV -j link show ul0 | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])')
ip -n $A neigh replace 172.31.0.1 lladdr $mach dev a0 nud permanent; ip -n $A neigh replace fc00:f::1 lladdr $mach dev a0 nud permanent
{ for i in $(seq 0 $((N-1))); do echo "link add t$i type veth peer name p$i"; echo "link set t$i up"; done; } | ip -n $HV -batch -
# sinks: bound sockets never read (tiny buffers: the kernel drops, cheaply)
sink='import socket,sys,time
s=[]
for fam,addr in ((socket.AF_INET,"0.0.0.0"),(socket.AF_INET6,"::")):
    x=socket.socket(fam,socket.SOCK_DGRAM); x.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1)
    if fam==socket.AF_INET6: x.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)
    x.bind((addr,9999)); s.append(x)
time.sleep(3600)'
ip netns exec $B python3 -c "$sink" & PIDS="$!"
ip netns exec $HV python3 -c "$sink" & PIDS="$PIDS $!"
sleep 0.5
send='import socket,sys,time
dst=sys.argv[1]; n=int(sys.argv[2]); reps=int(sys.argv[3])
fam=socket.AF_INET6 if ":" in dst else socket.AF_INET
s=socket.socket(fam,socket.SOCK_DGRAM); a=(dst,9999)
p=b"x"*64; f=s.sendto
if len(sys.argv)>4: s.bind((sys.argv[4],0))  # skip IPv6 source selection: it scans every interface
for _ in range(2000): f(p,a)
runs=[]
for _ in range(reps):
    t=time.process_time()
    for _ in range(n): f(p,a)
    runs.append((time.process_time()-t)/n)
print(round(sorted(runs)[len(runs)//2]*1e9))'
layout() {
  local lp=0 f
  [ "$1" = moved -o "$1" = goto ] && lp=1001
  for f in -4 -6; do
    for _ in 1 2 3 4 5; do ip -n $HV $f rule flush 2>/dev/null || true; [ $(ip -n $HV $f rule show | wc -l) -le 3 ] && break; done
    ip -n $HV $f rule del pref 0 2>/dev/null || true
    { echo "rule add pref $lp lookup local"; echo "rule add pref 32766 lookup main"; echo "rule add pref 32767 lookup default"
      if [ "$1" != none ]; then for i in $(seq 0 $((N-1))); do echo "rule add pref 1000 iif t$i lookup $((10000+i))"; done; fi
      if [ "$1" = goto ]; then echo "rule add pref 998 iif lo goto 1001"; echo "rule add pref 998 iif ul0 goto 1001"; echo "rule add pref 998 iif ul1 goto 1001"; fi
      if [ "$1" = goto -a $f = -6 ]; then echo "rule add pref 999 to fe80::/64 lookup local"; echo "rule add pref 999 to ff00::/8 lookup local"; fi
    } | ip -n $HV $f -batch -
  done
}
printf '%-7s %s\n' layout "fwd4 fwd6 underlay->hv4 underlay->hv6 hv-originated4 hv-originated6 (ns/packet CPU, median of $REPS x $COUNT)"
for L in ${LAYOUTS:-none before moved goto}; do
  layout $L
  r=()
  for d in 172.30.0.10 fc00:e::b 172.31.0.1 fc00:f::1; do r+=($(ip netns exec $A python3 -c "$send" $d $COUNT $REPS)); done
  r+=($(ip netns exec $HV python3 -c "$send" 172.30.0.10 $COUNT $REPS 172.30.0.1)); r+=($(ip netns exec $HV python3 -c "$send" fc00:e::b $COUNT $REPS fc00:e::1))
  printf '%-7s %s\n' $L "${r[*]}"
done
echo "rules in the goto layout (IPv4):"; ip -n $HV -4 rule show | grep -v "iif t[1-9]" | head

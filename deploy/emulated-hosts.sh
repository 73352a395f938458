#!/usr/bin/env bash
# Emulated hosts on one Linux machine: N network namespaces, each with its own address and one
# link to a shared switch, each link rate-limited in both directions with tc tbf (this kernel has
# no netem, so no delay or loss). Real processes run inside with `exec`; loopback hides the
# bandwidth a real network has, these links do not.
#
#   deploy/emulated-hosts.sh up N [RATE] [PREFIX]   create hosts 0..N-1 (default RATE 1gbit, PREFIX dh)
#   deploy/emulated-hosts.sh exec I [PREFIX] -- CMD...   run CMD on host I
#   deploy/emulated-hosts.sh addr I                 print host I's address (10.213.0.I+1)
#   deploy/emulated-hosts.sh down [PREFIX]          remove every namespace of PREFIX (links go with them)
#
# Host I is namespace PREFIX-hI with address 10.213.0.(I+1)/24 on interface eth0; the switch is
# namespace PREFIX-sw holding a bridge. The 10.213.0.0/24 addresses exist only inside these
# namespaces; the machine's own network is not touched. Needs root (ip netns, ip link, tc).
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }
[[ $# -ge 1 ]] || usage
command -v ip >/dev/null && command -v tc >/dev/null || { echo "error: needs ip and tc (apt-get install iproute2)" >&2; exit 1; }

addr() { echo "10.213.0.$(( $1 + 1 ))"; }

# tbf needs a bucket of at least one timer tick's worth of bytes; 1 ms of the rate, at least 64 KB.
burst_for() {
  local rate=$1 bits
  case $rate in
    *gbit) bits=$(( ${rate%gbit} * 1000000000 )) ;;
    *mbit) bits=$(( ${rate%mbit} * 1000000 )) ;;
    *) echo "error: RATE must be like 1gbit or 500mbit, not '$rate'" >&2; exit 1 ;;
  esac
  local bytes=$(( bits / 8 / 1000 ))
  (( bytes < 65536 )) && bytes=65536
  echo "$bytes"
}

down() {
  local prefix=${1:-dh}
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${prefix}-(h[0-9]+|sw)$" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
  done
}

up() {
  local n=$1 rate=${2:-1gbit} prefix=${3:-dh}
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 64 ]] || { echo "error: N must be 1-64, not '$n'" >&2; exit 1; }
  [[ $prefix =~ ^[a-z][a-z0-9]{0,5}$ ]] || { echo "error: PREFIX must be 1-6 lowercase letters or digits, starting with a letter" >&2; exit 1; }
  local burst; burst=$(burst_for "$rate")
  down "$prefix"
  # Whatever fails from here on, leave nothing half-built behind.
  trap 'down "$prefix"' ERR
  local sw=$prefix-sw
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  for (( i = 0; i < n; i++ )); do
    local ns=$prefix-h$i
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "$prefix-h$i-e" netns "$ns" type veth peer name "$prefix-p$i" netns "$sw"
    ip -n "$ns" link set "$prefix-h$i-e" name eth0
    ip -n "$ns" addr add "$(addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$sw" link set "$prefix-p$i" master br0
    ip -n "$sw" link set "$prefix-p$i" up
    # Each way: host → switch on the host's end, switch → host on the switch's end.
    tc -n "$ns" qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
    tc -n "$sw" qdisc add dev "$prefix-p$i" root tbf rate "$rate" burst "$burst" latency 50ms
  done
  trap - ERR
  echo "$n hosts up at $rate: $(for (( i = 0; i < n; i++ )); do printf '%s ' "$prefix-h$i=$(addr "$i")"; done)"
}

case $1 in
  up) shift; [[ $# -ge 1 ]] || usage; up "$@" ;;
  down) shift; down "${1:-dh}" ;;
  addr) shift; [[ $# -ge 1 ]] || usage; addr "$1" ;;
  exec)
    shift; [[ $# -ge 2 ]] || usage
    i=$1; shift
    prefix=dh
    if [[ $1 != -- ]]; then prefix=$1; shift; fi
    [[ ${1:-} == -- ]] && shift
    exec ip netns exec "$prefix-h$i" "$@"
    ;;
  *) usage ;;
esac

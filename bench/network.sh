#!/usr/bin/env bash
# Ours against PyTorch DDP gloo across emulated hosts (deploy/emulated-hosts.sh): a coordinator
# host plus N worker hosts for ours, N hosts for DDP (one rank each), every link tbf-limited each
# way. 1 epoch of full MNIST, the default recipe, exact f32 for ours (zero-masked), with the peer
# exchange (--exchange peers) and with the coordinator exchange (same hash checked). Prints a
# markdown table with samples/s, the ratio, and bytes sent and received per step by the
# coordinator (metrics.json) and by worker w1 (its log) under the peer exchange, beside the
# 2(N-1)/N x model-bytes bound of a bandwidth-optimal exchange. EXTRA adds options to ours
# (e.g. EXTRA="--blocks 2", or "--wire bf16").
#
#   bench/network.sh [RATES] [WORKERS]      default: "1gbit 10gbit" "2 3 4"
#
# All nodes share this machine's 2 cores: where ours or DDP is compute-bound rather than
# link-bound, the figure says more about the cores than the network. Namespaces are removed at the
# end, also on failure or Ctrl-C. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-"1gbit 10gbit"}
counts=${2:-"2 3 4"}
hosts=deploy/emulated-hosts.sh
prefix=bn
C=src/Coordinator/bin/Release/net10.0/Distributed.Coordinator.dll
W=src/Worker/bin/Release/net10.0/Distributed.Worker.dll
out=${KEEP:-$(mktemp -d)}   # KEEP=DIR keeps the runs' logs there
mkdir -p "$out"
trap '"$hosts" down $prefix; [[ -n ${KEEP:-} ]] || rm -rf "$out"' EXIT
dotnet build -c Release src/Coordinator src/Worker >/dev/null 2>&1 || dotnet build -c Release >/dev/null
model_bytes=940584   # 235,146 parameters x 4 bytes

ours() { # n raw(0|1) exchange -> "samples/s coordinator-sent coordinator-received worker-sent worker-received hash" (bytes per step)
  local n=$1 raw=$2 exchange=$3 run=$out/ours-$1-$2-$3
  "$hosts" exec 0 $prefix -- env DISTRIBUTED_RAW_TENSORS="$raw" dotnet $C coordinator --hostname 10.213.0.1 --port 4053 --data-port 4054 --min-workers "$n" \
    --epochs 1 --plain --exchange "$exchange" ${EXTRA:-} --out "$run" > "$run.log" 2>&1 &
  local coordinator=$!
  sleep 3
  for (( i = 1; i <= n; i++ )); do
    "$hosts" exec "$i" $prefix -- env DISTRIBUTED_RAW_TENSORS="$raw" dotnet $W --coordinator 10.213.0.1:4053 --hostname "$("$hosts" addr "$i")" --threads 1 --name "w$i" > "$run-w$i.log" 2>&1 &
  done
  wait $coordinator
  wait
  python3 - "$run/metrics.json" "$run-w1.log" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1]))
b = m["extra"]["step_breakdown"]
w = re.search(r"sent ([\d,]+) and received ([\d,]+) bytes per step", open(sys.argv[2]).read())
ws, wr = (int(g.replace(",", "")) for g in w.groups()) if w else (0, 0)
print(f'{m["epochs"][-1]["samples_per_second"]:.0f} {b["bytes_serialized"]:.0f} {b["bytes_received"]:.0f} {ws} {wr} {m["final_weights_sha256"][:12]}')
PY
}

ddp() { # n -> samples/s
  local n=$1 pids=()
  for (( r = n - 1; r >= 0; r-- )); do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 GLOO_SOCKET_IFNAME=eth0 \
      "$hosts" exec "$(( r + 1 ))" $prefix -- /usr/bin/python3 bench/pytorch/ddp.py --data data/mnist --world "$n" --rank "$r" \
      --master 10.213.0.2:29500 --epochs 1 > "$out/ddp-$n-$r.json" 2> "$out/ddp-$n-$r.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['samples_per_second']))" "$out/ddp-$n-0.json"
}

mb() { python3 -c "print(f'{$1/1e6:.2f}')"; }
echo "| link | workers | ours, peer exchange | ours, coordinator exchange | DDP gloo | peers ÷ DDP | coordinator sent / received per step (MB) | worker w1 sent / received (MB) | 2(N−1)/N × model (MB) | ours' hash |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for rate in $rates; do
  for n in $counts; do
    "$hosts" up $(( n + 1 )) "$rate" $prefix > /dev/null
    read -r our cs cr ws wr hash <<< "$(ours "$n" 0 peers)"
    read -r central _ _ _ _ centralhash <<< "$(ours "$n" 0 coordinator)"
    # Under --wire bf16 the two exchanges round at different points (the coordinator's sends bf16
    # weights; peers hold f32 replicas and round only gradients), so only exact runs must agree.
    if [[ ${EXTRA:-} == *bf16* ]]; then
      echo "note: bf16 wire: hashes of the peer ($hash) and coordinator ($centralhash) exchanges differ by design" >&2
    elif [[ $centralhash != "$hash" ]]; then
      echo "error: the coordinator exchange gave hash $centralhash, the peer exchange $hash" >&2
    fi
    their=$(ddp "$n")
    "$hosts" down $prefix
    bound=$(( 2 * (n - 1) * model_bytes / n ))
    printf '| %s | %d | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s… |\n' "$rate" "$n" "$our" "$central" "$their" \
      "$(python3 -c "print(f'{$our/$their:.2f}× ({$their/$our:.2f}×)')")" "$(mb "$cs")" "$(mb "$cr")" "$(mb "$ws")" "$(mb "$wr")" "$(mb "$bound")" "$hash"
  done
done

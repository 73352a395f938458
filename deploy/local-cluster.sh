#!/usr/bin/env bash
# Starts a coordinator and N worker processes on this machine, passes the training options to the
# coordinator, waits for the run, collects the logs and exits with the coordinator's exit code.
#
#   deploy/local-cluster.sh N [training options...]      e.g. deploy/local-cluster.sh 2 --epochs 1 --out runs/two
#
# Environment: LOG_DIR (default runs/local-cluster-logs), HOST (127.0.0.1), WORKER_THREADS
# (default: cores / N), NO_BUILD=1 to skip the build, TIMEOUT seconds for the whole run (default 1800),
# STANDBYS standby coordinators beside the active one (default 0): each keeps the active one's
# snapshots and takes the run over if it dies (outputs then in LOG_DIR/standby-K; STANDBY_DATA is
# their --data, default the bundled copy). The exit code is then the standby's that ran the run to the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: deploy/local-cluster.sh N [training options]   (N = number of worker processes, at least 1)" >&2
  exit 1
fi
workers=$1
shift
log_dir=${LOG_DIR:-runs/local-cluster-logs}
host=${HOST:-127.0.0.1}
cores=$(nproc)
threads=${WORKER_THREADS:-$(( cores / workers > 0 ? cores / workers : 1 ))}
standbys=${STANDBYS:-0}
[[ "$standbys" =~ ^[0-9]+$ ]] || { echo "STANDBYS must be a number of standby coordinators (got '$standbys')" >&2; exit 1; }
timeout_s=${TIMEOUT:-1800}
mkdir -p "$log_dir"
rm -f "$log_dir"/*.log

if [[ "${NO_BUILD:-0}" != 1 ]]; then
  dotnet build -c Release src/Coordinator >/dev/null
fi
coordinator_dll=src/Coordinator/bin/Release/net10.0/Distributed.Coordinator.dll
worker_dll=src/Worker/bin/Release/net10.0/Distributed.Worker.dll

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The coordinator picks a free port and prints it; the workers join that address.
dotnet "$coordinator_dll" coordinator --hostname "$host" --port 0 --min-workers "$workers" "$@" \
  > "$log_dir/coordinator.log" 2>&1 &
coordinator_pid=$!
address=""
for _ in $(seq 1 600); do
  address=$(grep -o "listening at akka.tcp://[^ ]*" "$log_dir/coordinator.log" 2>/dev/null | head -n1 | sed 's/listening at //') || true
  [[ -n "$address" ]] && break
  if ! kill -0 "$coordinator_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z "$address" ]]; then
  wait "$coordinator_pid" && code=0 || code=$?
  echo "coordinator did not start (exit $code):" >&2
  cat "$log_dir/coordinator.log" >&2
  exit $(( code == 0 ? 1 : code ))
fi
echo "coordinator at $address (pid $coordinator_pid); starting $standbys standby coordinator(s) and $workers worker(s), $threads thread(s) each; logs in $log_dir"

standby_pids=()
for i in $(seq 1 "$standbys"); do
  dotnet "$coordinator_dll" coordinator --standby --seed-node "$address" --hostname "$host" --port 0 --out "$log_dir/standby-$i" \
    ${STANDBY_DATA:+--data "$STANDBY_DATA"} > "$log_dir/standby-$i.log" 2>&1 &
  standby_pids+=($!)
  pids+=($!)
done

for i in $(seq 1 "$workers"); do
  dotnet "$worker_dll" --seed-node "$address" --hostname "$host" --port 0 --threads "$threads" --name "worker-$i" \
    > "$log_dir/worker-$i.log" 2>&1 &
  pids+=($!)
done

# Wait for the coordinator (bounded), then give the workers a moment to leave on their own.
code=0
if timeout "$timeout_s" tail --pid="$coordinator_pid" -f /dev/null; then
  wait "$coordinator_pid" || code=$?
else
  echo "the run did not finish within ${timeout_s}s; stopping it" >&2
  kill "$coordinator_pid" 2>/dev/null || true
  code=124
fi
# The active coordinator died: the standby that took the run over finishes it.
# It notices within a few seconds (the failure detector's), so wait for that first.
if [[ $code != 0 && $standbys -gt 0 ]]; then
  for _ in $(seq 1 150); do
    grep -q "taking over run" "$log_dir"/standby-*.log 2>/dev/null && break
    sleep 0.1
  done
  for i in $(seq 1 "$standbys"); do
    if grep -q "taking over run" "$log_dir/standby-$i.log" 2>/dev/null; then
      echo "the active coordinator exited with $code; standby-$i took the run over"
      pid=${standby_pids[$(( i - 1 ))]}
      code=0
      timeout "$timeout_s" tail --pid="$pid" -f /dev/null || code=124
      [[ $code == 124 ]] || { wait "$pid" || code=$?; }
      grep -E "epoch|final|error|standby:" "$log_dir/standby-$i.log" || true
      break
    fi
  done
fi
for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive == 0 ]] && break
  sleep 0.1
done

grep -E "epoch|final|error" "$log_dir/coordinator.log" || true
echo "coordinator exited with $code"
exit "$code"

#!/usr/bin/env bash
# Fault injection with real processes: trains once undisturbed (in one process) and once on a
# cluster of a coordinator and 3 worker processes that is disturbed mid-run, then compares the
# final weights hashes. Exits 0 when they are equal.
#
#   deploy/chaos.sh worker [training options]        kill -9 a worker mid-run, start a new one
#   deploy/chaos.sh coordinator [training options]   kill -9 the coordinator mid-run, restart it with --resume
#   deploy/chaos.sh coordinator-failover [options]   a standby coordinator beside the active one; kill -9 the
#                                                    active one mid-run and start nothing: the standby takes over
#
# Do not pass --out (the script chooses). Environment: DIR (default runs/chaos), KILL_AFTER seconds
# after training starts (for coordinator: after its first checkpoint; for coordinator-failover: after the
# standby's first snapshot; default 1.5), NO_BUILD=1,
# TIMEOUT seconds per cluster run (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:-}
if [[ "$scenario" != worker && "$scenario" != coordinator && "$scenario" != coordinator-failover ]]; then
  echo "usage: deploy/chaos.sh worker|coordinator|coordinator-failover [training options]" >&2
  exit 1
fi
shift
dir=${DIR:-runs/chaos}
kill_after=${KILL_AFTER:-1.5}
timeout_s=${TIMEOUT:-600}
rm -rf "$dir"
mkdir -p "$dir/logs"
[[ "${NO_BUILD:-0}" == 1 ]] || dotnet build -c Release src/Coordinator >/dev/null
coordinator_dll=src/Coordinator/bin/Release/net10.0/Distributed.Coordinator.dll
worker_dll=src/Worker/bin/Release/net10.0/Distributed.Worker.dll

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

now() { date -u +%H:%M:%S.%3N; }
seconds() { awk -F: '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 }' <<<"$1"; }
hash_of() { grep -o '"final_weights_sha256": "[0-9a-f]*"' "$1/metrics.json" | grep -o '[0-9a-f]\{64\}'; }

start_coordinator() { # log file, extra args...
  local log=$1; shift
  dotnet "$coordinator_dll" coordinator --port 0 --min-workers 3 --checkpoint-every 20 --out "$dir/disturbed" "$@" > "$log" 2>&1 &
  coordinator_pid=$!
  pids+=("$coordinator_pid")
  address=""
  for _ in $(seq 1 600); do
    address=$(grep -o "listening at akka.tcp://[^ ]*" "$log" 2>/dev/null | head -n1 | sed 's/listening at //') || true
    [[ -n "$address" ]] && return 0
    kill -0 "$coordinator_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "coordinator did not start:" >&2
  cat "$log" >&2
  exit 1
}

start_standby() { # log file
  dotnet "$coordinator_dll" coordinator --standby --seed-node "$address" --port 0 --checkpoint-every 20 --out "$dir/standby" > "$1" 2>&1 &
  standby_pid=$!
  pids+=("$standby_pid")
}

start_worker() { # name
  dotnet "$worker_dll" --seed-node "$address" --port 0 --threads 1 --name "$1" > "$dir/logs/$1.log" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
}

wait_for_file() { # path
  for _ in $(seq 1 1200); do [[ -f $1 ]] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2
  exit 1
}

wait_for_line() { # file, pattern
  for _ in $(seq 1 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1" >&2
  exit 1
}

echo "undisturbed run (one process)..."
dotnet "$coordinator_dll" train --workers 0 --out "$dir/undisturbed" "$@" > "$dir/logs/undisturbed.log" 2>&1
undisturbed=$(hash_of "$dir/undisturbed")

case $scenario in
  worker) when="" ;;
  coordinator) when=" after its first checkpoint" ;;
  *) when=" after the standby's first snapshot" ;;
esac
echo "disturbed run: coordinator$([[ $scenario != coordinator-failover ]] || echo ", a standby") and 3 worker processes, ${scenario%-failover} killed ${kill_after}s into training$when..."
start_coordinator "$dir/logs/coordinator.log" "$@"
[[ $scenario != coordinator-failover ]] || start_standby "$dir/logs/standby.log"
declare -A worker_pids
for name in worker-1 worker-2 worker-3; do start_worker "$name"; worker_pids[$name]=$worker_pid; done
wait_for_line "$dir/logs/coordinator.log" "registered; training"
# A killed coordinator resumes from its checkpoint: wait for the first one (step 20), so the kill
# lands mid-run however long workers take to connect and warm up.
[[ $scenario != coordinator ]] || wait_for_file "$dir/disturbed/checkpoint.bin"
# The standby can take over only once it holds a snapshot of the run.
[[ $scenario != coordinator-failover ]] || wait_for_line "$dir/logs/standby.log" "standby: following run"
sleep "$kill_after"

if [[ $scenario == worker ]]; then
  kill -9 "${worker_pids[worker-2]}"
  killed_at=$(now)
  wait "${worker_pids[worker-2]}" 2>/dev/null || true
  echo "$killed_at kill -9 worker-2 (pid ${worker_pids[worker-2]}); starting worker-4"
  start_worker worker-4
elif [[ $scenario == coordinator-failover ]]; then
  kill -9 "$coordinator_pid"
  killed_at=$(now)
  wait "$coordinator_pid" 2>/dev/null || true
  echo "$killed_at kill -9 the active coordinator (pid $coordinator_pid); nothing started by hand"
  # From here the standby's process is the run's: its exit code and outputs count.
  coordinator_pid=$standby_pid
  dir_out=standby
else
  kill -9 "$coordinator_pid"
  killed_at=$(now)
  wait "$coordinator_pid" 2>/dev/null || true
  echo "$killed_at kill -9 coordinator (pid $coordinator_pid)"
  for name in worker-1 worker-2 worker-3; do kill "${worker_pids[$name]}" 2>/dev/null || true; done
  ls "$dir/disturbed"/checkpoint*.bin
  start_coordinator "$dir/logs/coordinator-resumed.log" --resume "$dir/disturbed"
  restarted_at=$(now)
  for name in worker-5 worker-6 worker-7; do start_worker "$name"; done
fi

code=0
if timeout "$timeout_s" tail --pid="$coordinator_pid" -f /dev/null; then
  wait "$coordinator_pid" || code=$?
else
  echo "the disturbed run did not finish within ${timeout_s}s" >&2
  exit 124
fi
[[ $code == 0 ]] || { echo "the coordinator exited with $code" >&2; tail -n 20 "$dir/logs/coordinator"*.log "$dir/logs/standby.log" 2>/dev/null >&2; exit "$code"; }
disturbed=$(hash_of "$dir/${dir_out:-disturbed}")

if [[ $scenario == worker ]]; then
  detected=$(grep -m1 "worker-2 at .* is unreachable\|worker-2 at .* stopped" "$dir/logs/coordinator.log" | cut -d' ' -f1 || true)
  recovered=$(grep -m1 "after losing a worker" "$dir/logs/coordinator.log" | cut -d' ' -f1 || true)
  if [[ -z "$detected" || -z "$recovered" ]]; then
    echo "the kill did not interrupt a step (did the run finish within ${kill_after}s?); use a longer run or a smaller KILL_AFTER" >&2
    echo "what the coordinator logged about workers and steps:" >&2
    grep -h "worker-\|step [0-9]\|state\|going back" "$dir/logs/coordinator.log" | head -n 40 | sed 's/^/  /' >&2
    exit 1
  fi
  echo "worker lost at $detected ($(awk -v a="$(seconds "$detected")" -v b="$(seconds "$killed_at")" 'BEGIN { printf "%.1f", a - b }') s after the kill);" \
       "interrupted step completed at $recovered ($(awk -v a="$(seconds "$recovered")" -v b="$(seconds "$killed_at")" 'BEGIN { printf "%.1f", a - b }') s after the kill)"
  grep -h "after losing a worker\|is unreachable\|registered from" "$dir/logs/coordinator.log" | sed 's/^/  /'
elif [[ $scenario == coordinator-failover ]]; then
  grep -h "standby: " "$dir/logs/standby.log" | sed 's/^/  /'
  lost=$(grep -m1 "taking over run" "$dir/logs/standby.log" | cut -d' ' -f1 || true)
  going=$(grep -m1 "the first as term" "$dir/logs/standby.log" || true)
  if [[ -z "$lost" || -z "$going" ]]; then
    echo "the standby did not take the run over (did the run finish within ${kill_after}s of the first snapshot?)" >&2
    exit 1
  fi
  echo "takeover began at $lost ($(awk -v a="$(seconds "$lost")" -v b="$(seconds "$killed_at")" 'BEGIN { printf "%.1f", a - b }') s after the kill);" \
       "$(cut -d' ' -f3- <<<"$going") at $(cut -d' ' -f1 <<<"$going")" \
       "($(awk -v a="$(seconds "$(cut -d' ' -f1 <<<"$going")")" -v b="$(seconds "$killed_at")" 'BEGIN { printf "%.1f", a - b }') s after the kill)"
else
  resumed=$(grep -m1 "resuming from" "$dir/logs/coordinator-resumed.log" || true)
  trained=$(grep -m1 "registered; training" "$dir/logs/coordinator-resumed.log" | cut -d' ' -f1)
  echo "coordinator restarted at $restarted_at; ${resumed}; training again at $trained" \
       "($(awk -v a="$(seconds "$trained")" -v b="$(seconds "$killed_at")" 'BEGIN { printf "%.1f", a - b }') s after the kill)"
fi
echo "undisturbed final_weights_sha256 $undisturbed"
echo "disturbed   final_weights_sha256 $disturbed"
if [[ "$undisturbed" == "$disturbed" ]]; then echo "same weights: yes"; else echo "same weights: NO"; exit 1; fi

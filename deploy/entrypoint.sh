#!/bin/sh
# Container entry point: "coordinator" or "worker", configured by environment variables.
#   APP (/app: where the image holds the programs and data)
#   both:             PORT (4053), HEALTH_PORT (8558: GET /health/live, /health/ready), PUBLIC_HOSTNAME (default: this container's IP),
#                     DATA (/app/data/mnist)
#   coordinator:      DATA_PORT (4054: the tensor data plane workers connect to), MIN_WORKERS (2), OUT (/runs/latest),
#                     TRAIN_ARGS (extra training options, e.g. "--epochs 3"),
#                     COORDINATORS (host:port of every coordinator, comma-separated, this one's included: runs
#                     `coordinator --elect`, where the oldest leads and the others stand by; unset: the one coordinator)
#   worker:           COORDINATOR (host:port of the coordinator, or of every coordinator comma-separated;
#                     default coordinator:4053), THREADS (cores)
set -eu
# host:port,host:port -> --seed-node akka.tcp://distributed@host:port for each
seeds() {
  for address in $(echo "$1" | tr ',' ' '); do printf -- '--seed-node akka.tcp://distributed@%s ' "$address"; done
}
app=${APP:-/app}
role=${1:-worker}
shift || true
public=${PUBLIC_HOSTNAME:-$(hostname -i | cut -d' ' -f1)}
case "$role" in
  coordinator)
    elect=""
    [ -z "${COORDINATORS:-}" ] || elect="--elect $(seeds "$COORDINATORS")"
    # shellcheck disable=SC2086
    exec dotnet "$app"/coordinator/Distributed.Coordinator.dll coordinator --hostname 0.0.0.0 --public-hostname "$public" \
      --port "${PORT:-4053}" --data-port "${DATA_PORT:-4054}" --health-port "${HEALTH_PORT:-8558}" --min-workers "${MIN_WORKERS:-2}" --data "${DATA:-$app/data/mnist}" --out "${OUT:-/runs/latest}" --plain $elect ${TRAIN_ARGS:-} "$@" ;;
  worker)
    # shellcheck disable=SC2046
    exec dotnet "$app"/worker/Distributed.Worker.dll --hostname 0.0.0.0 --public-hostname "$public" --port "${PORT:-4053}" \
      --health-port "${HEALTH_PORT:-8558}" \
      $(seeds "${COORDINATOR:-coordinator:4053}") --data "${DATA:-$app/data/mnist}" --threads "${THREADS:-$(nproc)}" "$@" ;;
  *)
    echo "usage: entrypoint.sh coordinator|worker [options]" >&2
    exit 1 ;;
esac

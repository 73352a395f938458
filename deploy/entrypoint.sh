#!/bin/sh
# Container entry point: "coordinator" or "worker", configured by environment variables.
#   APP (/app: where the image holds the programs and data)
#   both:             PORT (4053), HEALTH_PORT (8558: GET /health/live, /health/ready), PUBLIC_HOSTNAME (default: this container's IP),
#                     DATA (/app/data/mnist)
#   coordinator:      DATA_PORT (4054: the tensor data plane workers connect to), MIN_WORKERS (2), OUT (/runs/latest),
#                     TRAIN_ARGS (extra training options, e.g. "--epochs 3")
#   worker:           COORDINATOR (host:port of the coordinator, default coordinator:4053), THREADS (cores)
set -eu
app=${APP:-/app}
role=${1:-worker}
shift || true
public=${PUBLIC_HOSTNAME:-$(hostname -i | cut -d' ' -f1)}
case "$role" in
  coordinator)
    # shellcheck disable=SC2086
    exec dotnet "$app"/coordinator/Distributed.Coordinator.dll coordinator --hostname 0.0.0.0 --public-hostname "$public" \
      --port "${PORT:-4053}" --data-port "${DATA_PORT:-4054}" --health-port "${HEALTH_PORT:-8558}" --min-workers "${MIN_WORKERS:-2}" --data "${DATA:-$app/data/mnist}" --out "${OUT:-/runs/latest}" --plain ${TRAIN_ARGS:-} "$@" ;;
  worker)
    exec dotnet "$app"/worker/Distributed.Worker.dll --hostname 0.0.0.0 --public-hostname "$public" --port "${PORT:-4053}" \
      --health-port "${HEALTH_PORT:-8558}" \
      --coordinator "${COORDINATOR:-coordinator:4053}" --data "${DATA:-$app/data/mnist}" --threads "${THREADS:-$(nproc)}" "$@" ;;
  *)
    echo "usage: entrypoint.sh coordinator|worker [options]" >&2
    exit 1 ;;
esac

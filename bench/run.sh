#!/usr/bin/env bash
# Benchmarks: our GEMM at the MLP's shapes, and our trainer vs PyTorch on the same machine.
# Installs Debian's PyTorch and OpenBLAS if missing (PyTorch without OpenBLAS falls back to the
# reference BLAS and runs ~15x slower, which would flatter us).
# PyTorch runs with the OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE override removed and its kernels and
# thread settings calibrated (bench/Distributed.Bench/TorchBaseline.cs).
# Usage: bench/run.sh [table [rounds]] [gemm] [exchange] [memory] [profile] [layers] [cnn] [observe] [zeromask]   (default: table, 5 rounds)
#        bench/run.sh network [RATES] [WORKERS]   ours vs DDP across emulated hosts (bench/network.sh; root)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch" 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  echo "installing python3-torch and libopenblas0-pthread (apt)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy libopenblas0-pthread >/dev/null
fi
if [[ ${1:-} == network ]]; then shift; exec bench/network.sh "$@"; fi
dotnet build -c Release src/Coordinator >/dev/null
dotnet run -c Release --project bench/Distributed.Bench -- "$@"

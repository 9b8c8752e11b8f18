#!/usr/bin/env bash
# Runs the kernel, peer, scaling and training benchmarks and writes JSON lines, PNGs,
# RESULTS.md and the environment to one folder:
#
#     benchmarks/gpu.sh OUT_DIR
#
# On a GPU they run in full mode (budget: under 8 minutes in all) and RESULTS.md is also copied
# to benchmarks/RESULTS-gpu.md. Without a GPU it says so and runs the quick mode instead (the
# full mode takes much longer on a CPU), and writes nothing into benchmarks/.
# Python: $PYTHON if set, else .venv/bin/python if present, else python3.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${PYTHON:-} ]]; then
  py=$PYTHON
elif [[ -x $root/.venv/bin/python ]]; then
  py=$root/.venv/bin/python
else
  py=python3
fi

export XLA_PYTHON_CLIENT_PREALLOCATE=false  # allocate as needed; other processes may share it
export PYTHONUNBUFFERED=1

backend=$("$py" -c 'import jax; print(jax.default_backend())')
"$py" -c 'import jax; print("devices:", jax.devices())'
mode=()
if [[ $backend == gpu || $backend == cuda || $backend == rocm ]]; then
  echo "backend $backend: full mode (every bench_*.py)"
else
  echo "backend $backend (no GPU): running the quick mode instead of the full one"
  mode=(--quick)
fi

mkdir -p "$out"
start=$SECONDS
status=0
"$py" "$root/benchmarks/run_all.py" --out "$out" --timeout 600 \
  --only kernels peers scaling training ${mode[@]+"${mode[@]}"} || status=$?
if [[ ${#mode[@]} -eq 0 && -f $out/RESULTS.md ]]; then
  cp "$out/RESULTS.md" "$root/benchmarks/RESULTS-gpu.md"
fi
echo "gpu.sh: $((SECONDS - start)) s in all, exit status $status; results in $out"
exit "$status"

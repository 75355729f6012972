#!/usr/bin/env bash
# What one call on a lent GPU machine checks, in about ten minutes:
#   1. every shipped method's smoke profile on CUDA (image methods on digits, point-cloud
#      methods on ModelNet40 when its folder is given);
#   2. one quick-profile MNIST run (seed 0) of the costliest methods, when MNIST's IDX folder
#      is given;
#   3. the fitting benchmark at MNIST's full size (70,000 INRs, 1,000 steps).
# Every step runs even when an earlier one failed; the summary lists each step as ok or FAILED
# with its log, and the exit status is the number of failed steps (69: no CUDA at all).
#
# Usage: benchmarks/gpu_check.sh OUT [MNIST_IDX_DIR] [MODELNET40_DIR]
#   OUT: a new or empty folder for the card's name, logs, records and summary.txt.
# GPU_CHECK_METHODS=a,b limits step 1, GPU_CHECK_QUICK="a b" names step 2's methods, PYTHON the
# interpreter (default python3). Rehearsal on a CPU:
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_METHODS=flat-mlp benchmarks/gpu_check.sh OUT
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: $0 OUT [MNIST_IDX_DIR] [MODELNET40_DIR]" >&2
    exit 64
fi
OUT=$1 MNIST=${2:-} MODELNET=${3:-}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
COSTLIEST=${GPU_CHECK_QUICK:-"neural-graph scalegmn hyperinr mwt"}
PY=${PYTHON:-python3}
mkdir -p "$OUT/logs" || exit 64
OUT=$(cd "$OUT" && pwd)
export WSBENCH_DATA="$OUT/data"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
failed=0

if [ "$DEVICE" = cuda ]; then
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "gpu_check: torch sees no CUDA device here; nothing was run" | tee -a "$SUMMARY" >&2
        exit 69
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/card.txt" 2>&1
    "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)" >> "$OUT/card.txt"
fi

step() {  # step NAME TIMEOUT_S COMMAND...: run it, log it, record ok or FAILED
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    if timeout "$limit" "$@" > "$OUT/logs/$name.log" 2>&1; then
        echo "ok      $name ($((SECONDS - start)) s)" >> "$SUMMARY"
    else
        echo "FAILED  $name ($((SECONDS - start)) s; logs/$name.log)" >> "$SUMMARY"
        failed=$((failed + 1))
    fi
}

run() {  # run NAME TIMEOUT_S wsbench-run-arguments...
    local name=$1 limit=$2
    shift 2
    step "$name" "$limit" "$PY" -m wsbench --results "$OUT/results" run --device "$DEVICE" --seeds 0-0 --quiet "$@"
}

# methods and the modality each smoke run takes: image methods on digits, the others on ModelNet40
methods=$("$PY" - <<'EOF'
import os
from pathlib import Path
from wsbench.core.discovery import discover
from wsbench.core.paths import plugin_dirs
chosen = os.environ.get("GPU_CHECK_METHODS")
registry = discover(plugin_dirs(Path.cwd(), []))
for name, cls in sorted(registry.methods.items()):
    if name != "template" and (not chosen or name in chosen.split(",")):
        print(name, "image" if "image" in cls.modalities else "pointcloud")
EOF
) || { echo "gpu_check: the method registry did not load" | tee -a "$SUMMARY" >&2; exit 1; }

if [ -n "$MODELNET" ]; then
    step prepare-modelnet40 300 "$PY" -m wsbench prepare modelnet40 --from "$MODELNET"
fi
while read -r name modality; do
    if [ "$modality" = image ]; then
        run "smoke-$name" 300 --method "$name" --dataset digits --profile smoke
    elif [ -n "$MODELNET" ]; then
        run "smoke-$name" 300 --method "$name" --dataset modelnet40 --profile smoke
    else
        echo "skipped $name (point clouds only: give MODELNET40_DIR)" >> "$SUMMARY"
    fi
done <<< "$methods"

if [ -n "$MNIST" ]; then
    step prepare-mnist 300 "$PY" -m wsbench prepare mnist --from "$MNIST"
    for name in $COSTLIEST; do
        if grep -q "^$name " <<< "$methods"; then
            run "quick-mnist-$name" 1200 --method "$name" --dataset mnist --profile quick
        fi
    done
else
    echo "skipped the quick MNIST runs (give MNIST_IDX_DIR)" >> "$SUMMARY"
fi

if [ "$DEVICE" = cuda ]; then
    step fit-throughput 900 "$PY" benchmarks/fit_throughput.py --device cuda --mnist-total 70000 --mnist-steps 1000
fi

if compgen -G "$OUT/results/runs/*.json" > /dev/null; then
    "$PY" -m wsbench --results "$OUT/results" report --format plain > "$OUT/report.txt" 2>&1
fi
cat "$SUMMARY"
exit "$failed"

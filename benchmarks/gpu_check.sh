#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU and CuPy (no network needed):
#
#     bash benchmarks/gpu_check.sh
#
# Stages, each time-limited and run even when an earlier one failed:
#   0 setup        pip install -e . offline (+ .whl/*.whl, e.g. array-api-compat), or a link farm
#   1 info         nvidia-smi, TENSORPLUG_BACKEND=cupy python -m tensorplug info
#   2 conformance  python -m tensorplug.testing cupy
#   3 tests-cupy   pytest: the backend-fixture tests restricted to cupy, gpu-marked tests
#   4 tests-env    pytest with TENSORPLUG_BACKEND=cupy as the default backend (autograd, nn, optim)
#     nccl         the NCCL process group: collectives and DDP on CUDA tensors
#   5 fastpaths    the cupy backend's fast conv/pool paths (cuDNN, CUDA kernels) against the defaults,
#                  printing which path the backend picks and the tracebacks of any that failed
#   6 bench        MLP 784-256-256-10 and a small CNN SGD step, batch 512, tensorplug[cupy] vs torch cuda
#                  (+ per-phase times, the fast-path status, the CNN again with the fast paths off)
#   7 profile      per-op host cost (tensorplug, raw CuPy, torch) and the MLP step under cProfile
#   8 autocast     the nanoGPT-style decoder under autocast float16, tensorplug[cupy] vs torch cuda: every
#                  module's output dtype, the loss's and the gradients' must match torch's, the first losses
#                  agree; AdamW+GradScaler steps timed beside float32 ones (the tensor cores' speed-up)
# The report goes to $OUT/gpu_report (or ./gpu_report): one log per stage and summary.md.
# Sized to finish in under 9 minutes (stage limits add up to 8.7, most stages take far less).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REPORT=${OUT:-.}/gpu_report
mkdir -p "$REPORT"
SUMMARY="$REPORT/summary.md"
START=$(date +%s)
: > "$SUMMARY.tmp"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-${TMPDIR:-/tmp}/tensorplug_cupy_cache}  # not in the report: hundreds of files

stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  echo "=== $name (limit ${limit}s): $*" | tee -a "$REPORT/$name.log"
  timeout --kill-after=5 "$limit" "$@" >> "$REPORT/$name.log" 2>&1
  local rc=$? t=$(( $(date +%s) - t0 ))
  local status=ok
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status="TIMED OUT"
  [ $rc -ne 0 ] && [ "$status" = ok ] && status="FAILED (rc $rc)"
  local last
  last=$(grep -E "passed|failed|error|Error" "$REPORT/$name.log" | tail -1 | cut -c1-200)
  echo "| $name | $status | ${t}s | ${last} |" >> "$SUMMARY.tmp"
  echo "--- $name: $status in ${t}s  ${last}"
}

setup() {
  for w in .whl/*.whl; do
    [ -e "$w" ] && $PY -m pip install --no-deps --no-index "$w"
  done
  if $PY -m pip install --no-deps --no-build-isolation --no-index -e .; then
    echo "installed editable"
  else
    # no setuptools/wheel offline: a link farm with the entry points, on PYTHONPATH
    local site="$REPORT/site"
    rm -rf "$site" && mkdir -p "$site/tensorplug-0.1.0.dist-info"
    ln -s "$PWD/framework" "$site/tensorplug"
    ln -s "$PWD/backends/tensorplug_numpy" "$site/tensorplug_numpy"
    ln -s "$PWD/backends/tensorplug_cupy" "$site/tensorplug_cupy"
    [ -d plugins/tensorplug_extras ] && ln -s "$PWD/plugins/tensorplug_extras" "$site/tensorplug_extras"
    printf 'Metadata-Version: 2.1\nName: tensorplug\nVersion: 0.1.0\n' > "$site/tensorplug-0.1.0.dist-info/METADATA"
    $PY - "$site" <<'EOF'
import re, sys, tomllib
eps = tomllib.load(open("pyproject.toml", "rb"))["project"]["entry-points"]["tensorplug"]
with open(sys.argv[1] + "/tensorplug-0.1.0.dist-info/entry_points.txt", "w") as f:
    f.write("[tensorplug]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
EOF
    echo "link farm at $site"
  fi
  $PY -c "import tensorplug, tensorplug_cupy, sys; print('tensorplug', tensorplug.__version__, 'from', tensorplug.__file__); print('cupy probe:', tensorplug_cupy.probe() or 'available')"
}

export PY REPORT
export -f setup
stage setup 40 bash -c setup
[ -d "$REPORT/site" ] && export PYTHONPATH="$REPORT/site${PYTHONPATH:+:$PYTHONPATH}"

stage info 20 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; \
  $PY -c 'import cupy, torch; print(\"cupy\", cupy.__version__, \"torch\", torch.__version__, torch.version.cuda)'; \
  TENSORPLUG_BACKEND=cupy $PY -m tensorplug info"

stage conformance 70 $PY -m tensorplug.testing cupy

PYTEST="$PY -m pytest -q -p no:cacheprovider -o addopts= -rfE"
stage tests-cupy 100 env TENSORPLUG_TEST_BACKENDS=cupy $PYTEST --ignore=tests/backends/test_cupy_fastpaths.py \
  tests/framework/testing tests/backends tests/framework/test_cuda.py tests/framework/ops/test_op_table.py \
  tests/framework/nn tests/framework/optim -k "cupy or gpu or cuda" --junitxml="$REPORT/tests-cupy.xml"

stage tests-env 70 env TENSORPLUG_BACKEND=cupy TENSORPLUG_TEST_BACKENDS=cupy $PYTEST \
  tests/framework/autograd tests/framework/nn/test_linear.py tests/framework/nn/test_loss.py \
  tests/framework/nn/test_activation.py tests/framework/nn/test_packed_sequence.py \
  tests/framework/nn/test_backward_hooks.py tests/framework/optim/test_sgd.py \
  tests/framework/optim/test_optimizer_hooks.py --junitxml="$REPORT/tests-env.xml"

# NCCL through CuPy (needs the distributed extra: mpi4py + mpich); one rank per GPU, so world size 1 on one GPU
stage nccl 40 $PYTEST tests/distributed/test_nccl.py -m gpu --junitxml="$REPORT/tests-nccl.xml"

stage fastpaths 35 env TENSORPLUG_TEST_BACKENDS=cupy $PYTEST -rs -s tests/backends/test_cupy_fastpaths.py \
  --junitxml="$REPORT/tests-fastpaths.xml"

stage bench 85 $PY benchmarks/gpu_check.py --backend cupy --torch-device cuda --steps 20 --warmup 3 \
  --compare-default --out "$REPORT/bench.json"

stage profile 60 $PY benchmarks/gpu_profile.py --backend cupy --steps 60 --workloads mlp,cnn

stage autocast 60 $PY benchmarks/gpu_check.py --autocast --backend cupy --torch-device cuda --steps 10 --warmup 3 \
  --out "$REPORT/autocast.json"

{
  echo "# tensorplug GPU check ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - START ))s)"
  echo
  echo "| stage | status | time | last line |"
  echo "|---|---|---|---|"
  cat "$SUMMARY.tmp"
  echo
  sed -n '/^| workload/,$p' "$REPORT/bench.log" 2>/dev/null
  echo
  sed -n '/^| decoder under autocast/,$p' "$REPORT/autocast.log" 2>/dev/null
  echo
  grep -ohE "fastpath_status: .*|^SKIPPED .*(cudnn|cuDNN).*" "$REPORT/fastpaths.log" 2>/dev/null | sort -u | head -5
  echo
  echo "## failures"
  grep -hE "^(FAILED|ERROR) " "$REPORT"/tests-*.log "$REPORT/fastpaths.log" 2>/dev/null | head -60
  grep -h "FAIL " "$REPORT/conformance.log" 2>/dev/null | head -30
} > "$SUMMARY"
rm -f "$SUMMARY.tmp"
cat "$SUMMARY"

#!/usr/bin/env bash
# gpu_check.sh: the one GPU check of lory.cpp, about 8 minutes on an H200. Configures and builds
# with CUDA (sm_90, Release, -j16), runs the GPU tests (ctest -L cuda) and the CPU tests, the op
# parity test under compute-sanitizer memcheck and racecheck, the bf16 GEMM peak, the attention
# kernel lab, the GPU model bench and the PyTorch twin (eager and torch.compile). Every step is
# time-boxed (`timeout`) and the whole run keeps to a budget; a failed step is reported and the
# script goes on. The last thing printed is a summary table.
#
#   bench/gpu_check.sh [LOG_DIR]        (default: gpu_check_logs/<UTC time>)
#   GPU_CHECK_BUDGET=480 GPU_CHECK_JOBS=16 GPU_CHECK_BUILD=build-gpu   (environment overrides)
#   GPU_CHECK_PEAK_TFLOPS=N   the bf16 GEMM peak for the model bench, when bench_gpu_gemm's
#                             output cannot be parsed (or it is not built)
set -u
cd "$(dirname "$0")/.."
LOG_DIR=${1:-gpu_check_logs/$(date -u +%Y%m%d_%H%M%S)}
BUDGET=${GPU_CHECK_BUDGET:-480}   # seconds for everything
JOBS=${GPU_CHECK_JOBS:-16}
BUILD=${GPU_CHECK_BUILD:-build-gpu}
mkdir -p "$LOG_DIR"
START=$(date +%s)
SUMMARY=()

# Appends words to the last summary row.
note() { [ -n "$*" ] && SUMMARY[-1]="${SUMMARY[-1]} $*"; return 0; }

remaining() { echo $((BUDGET - ($(date +%s) - START))); }

# step NAME LIMIT_S LOGFILE COMMAND...: runs COMMAND under timeout min(LIMIT, remaining budget),
# output to LOG_DIR/LOGFILE, and records a summary row. Returns the command's status.
step() {
  local name=$1 limit=$2 log=$LOG_DIR/$3
  shift 3
  local left; left=$(remaining)
  if [ "$left" -lt 15 ]; then
    SUMMARY+=("$(printf '%-22s %-9s %6s  %s' "$name" SKIPPED - "budget spent")")
    echo "== $name: skipped (budget spent)" | tee "$log"
    return 124
  fi
  [ "$limit" -gt "$((left - 5))" ] && limit=$((left - 5))
  echo "== $name (limit ${limit}s): $*"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  local rc=$?
  local dt=$(($(date +%s) - t0)) status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=TIMEOUT
  elif [ $rc -eq 77 ]; then status=SKIPPED
  elif [ $rc -ne 0 ]; then status="FAIL($rc)"; fi
  tail -n 4 "$log" | sed 's/^/   | /'
  SUMMARY+=("$(printf '%-22s %-9s %5ss ' "$name" "$status" "$dt")")
  return $rc
}

{
  echo "lory.cpp gpu_check $(date -u)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || echo "no nvidia-smi"
  nvcc --version 2>/dev/null | tail -n 1 || /usr/local/cuda/bin/nvcc --version | tail -n 1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
} | tee "$LOG_DIR/env.txt"

step configure 90 configure.log cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLORY_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90
# -k: a target that fails to compile does not stop the others (later steps run what was built).
step build 300 build.log cmake --build "$BUILD" -j"$JOBS" -- -k
BUILD_RC=$?
if [ $BUILD_RC -ne 0 ] && [ $BUILD_RC -ne 124 ]; then
  grep -E "error" "$LOG_DIR/build.log" | head -n 30 > "$LOG_DIR/build_errors.txt"
  note "$(wc -l < "$LOG_DIR/build_errors.txt") error lines: build_errors.txt"
fi

ctest_note() { grep -E "tests passed|tests failed" "$1" | tail -n 1; }
step gpu-tests 150 ctest_cuda.log ctest --test-dir "$BUILD" -L cuda --output-on-failure --timeout 120
note "$(ctest_note "$LOG_DIR/ctest_cuda.log")"

PEAK=${GPU_CHECK_PEAK_TFLOPS:-0}
GEMM=$(find "$BUILD" -maxdepth 2 -name bench_gpu_gemm -type f -perm -u+x | head -n 1)
if [ -n "$GEMM" ]; then
  step gemm-peak 60 bench_gpu_gemm.log "$GEMM"
  # The measured bf16 GEMM peak. bench_gpu_gemm ends with "measured bf16 GEMM peak: the bf16
  # figure of 'square 8192^3' above": the last column of the row it names. Otherwise the first
  # "<number> TFLOP" on a line mentioning "peak".
  ROW=$(grep -iE "peak" "$LOG_DIR/bench_gpu_gemm.log" | grep -oE "'[^']+'" | head -n 1 | tr -d "'")
  PEAK=""
  [ -n "$ROW" ] && PEAK=$(grep -F "$ROW" "$LOG_DIR/bench_gpu_gemm.log" | grep -viE "peak" | head -n 1 \
                          | awk '{print $NF}' | grep -E "^[0-9]+(\.[0-9]+)?$")
  peak_from() { grep -oiE "[0-9]+(\.[0-9]+)? *TFLOP" | head -n 1 | grep -oE "^[0-9]+(\.[0-9]+)?"; }
  [ -z "$PEAK" ] && PEAK=$(grep -iE "peak" "$LOG_DIR/bench_gpu_gemm.log" | peak_from)
  [ -n "${GPU_CHECK_PEAK_TFLOPS:-}" ] && PEAK=$GPU_CHECK_PEAK_TFLOPS
  PEAK=${PEAK:-0}
  note "bf16 peak ${PEAK} TFLOP/s (parsed; GPU_CHECK_PEAK_TFLOPS overrides)"
else
  SUMMARY+=("$(printf '%-22s %-9s %6s  %s' gemm-peak SKIPPED - "bench_gpu_gemm not built")")
fi

# The attention kernel lab: v1 SIMT vs v2 tensor cores, forward and forward + backward.
ATTN=$(find "$BUILD" -maxdepth 2 -name bench_gpu_attention -type f -perm -u+x | head -n 1)
if [ -n "$ATTN" ]; then
  step attention-bench 60 bench_gpu_attention.log "$ATTN"
  # The f+b TFLOP/s (last column) of v1 and v2 at the first shape (the model's, L 1024).
  attn_tflops() { grep -F "$1" "$LOG_DIR/bench_gpu_attention.log" | head -n 1 | awk '{print $NF}'; }
  note "f+b TFLOP/s at L1024: simt $(attn_tflops 'v1 simt') tc $(attn_tflops 'v2 tensor-core')"
else
  SUMMARY+=("$(printf '%-22s %-9s %6s  %s' attention-bench SKIPPED - "bench_gpu_attention not built")")
fi

if [ -x "$BUILD/bench_gpu_model" ]; then
  step model-bench 150 bench_gpu_model.log "$BUILD/bench_gpu_model" --steps 3 --profile 1 --peak-tflops "$PEAK"
  note "$(grep -cE '^\{' "$LOG_DIR/bench_gpu_model.log") runs"
else
  SUMMARY+=("$(printf '%-22s %-9s %6s  %s' model-bench SKIPPED - "bench_gpu_model not built")")
fi

if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step twin-eager 75 twin_eager.log python3 bench/torch_twin_gpu.py --modes eager --steps 3
  note "$(grep -cE '^\{' "$LOG_DIR/twin_eager.log") runs"
else
  SUMMARY+=("$(printf '%-22s %-9s %6s  %s' twin SKIPPED - "python3 torch with CUDA not found")")
fi

SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
PARITY=$BUILD/tests/cuda_test_op_parity
[ -x "$PARITY" ] || PARITY=$(find "$BUILD" -name cuda_test_op_parity -type f -perm -u+x | head -n 1)
if [ -x "$SAN" ] && [ -n "$PARITY" ] && [ -x "$PARITY" ]; then
  step memcheck 75 memcheck.log "$SAN" --tool memcheck --error-exitcode 1 "$PARITY"
  note "$(grep -E "ERROR SUMMARY" "$LOG_DIR/memcheck.log" | tail -n 1)"
  step racecheck 75 racecheck.log "$SAN" --tool racecheck --error-exitcode 1 "$PARITY"
  note "$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$LOG_DIR/racecheck.log" | tail -n 1)"
else
  SUMMARY+=("$(printf '%-22s %-9s %6s  %s' sanitizers SKIPPED - "no compute-sanitizer or no parity test binary")")
fi

# Two OpenMP threads per test and passive waiting: -j16 tests with 16 spinning threads each
# oversubscribe the machine until tests time out.
step cpu-tests 150 ctest_cpu.log env OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
  ctest --test-dir "$BUILD" -LE "cuda|cli" -j8 --timeout 120 --output-on-failure
note "$(ctest_note "$LOG_DIR/ctest_cpu.log")"

if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  # Compilation takes minutes for the Lory graphs (a Python loop over segments): config a only
  # unless GPU_CHECK_TWIN_COMPILE=all.
  step twin-compile 150 twin_compile.log python3 bench/torch_twin_gpu.py --modes compile --steps 3 \
    --config "${GPU_CHECK_TWIN_COMPILE:-a}"
  note "$(grep -cE '^\{' "$LOG_DIR/twin_compile.log") runs"
fi

echo
echo "---- results (full logs in $LOG_DIR) ----"
for f in bench_gpu_model.log twin_eager.log twin_compile.log; do
  [ -f "$LOG_DIR/$f" ] || continue
  echo "[$f]"
  grep -vE '^\{' "$LOG_DIR/$f" | grep -E "^(a|b) |run " | head -n 12
done
if [ -f "$LOG_DIR/bench_gpu_attention.log" ]; then
  echo "[bench_gpu_attention.log]"
  grep -E "^\(" "$LOG_DIR/bench_gpu_attention.log" | head -n 8
fi
echo
echo "---- gpu_check summary: $(( $(date +%s) - START ))s of ${BUDGET}s budget, logs in $LOG_DIR ----"
printf '%-22s %-9s %6s  %s\n' step status time note
for row in "${SUMMARY[@]}"; do echo "$row"; done

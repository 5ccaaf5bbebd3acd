#!/usr/bin/env bash
# The command line on the GPU: a tiny run trains 3 steps with --device cuda and resumes on the
# CPU (and one the other way round), then eval gives the same losses with --device cpu and
# --device cuda (fp32, 1e-5 relative), and routing, generate and bench run on the GPU.
# Exits 77 (skipped) without a GPU or a CUDA build. Usage: cli_gpu.sh LORY_BINARY SOURCE_DIR
set -euo pipefail
lory=$1
src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if out=$("$lory" eval --device cuda 2>&1); [[ "$out" == *"device 'cuda' requested but"* ]]; then
  echo "skipped: $out"
  exit 77
fi

"$lory" tokenizer train --corpus "$src/tests/data/corpus/sample.jsonl" --vocab 512 --out "$dir/tok.json"
"$lory" tokenize --corpus "$src/tests/data/corpus/sample.jsonl" --tokenizer "$dir/tok.json" --out-dir "$dir"
for run in gpu_cpu cpu_gpu; do
  cat > "$dir/$run.json" <<JSON
{
  "model": {"vocab": 512, "d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64, "max_seq": 32,
            "ffn": "lory", "n_experts": 4, "segment_len": 8},
  "data": {"train": "train.bin", "valid": "valid.bin", "seq_len": 32, "batch_size": 4},
  "optimizer": {"lr": 0.01},
  "steps": 6, "dense_warmup_frac": 0.5, "log_interval": 1, "eval_interval": 0, "eval_batches": 1,
  "checkpoint_interval": 3, "keep_checkpoints": 0, "out_dir": "$run", "threads": 1
}
JSON
done

# 6 steps on one device, the last checkpoint dropped, steps 4-6 again on the other.
switch() {  # run first then
  "$lory" train --config "$dir/$1.json" --device "$2" --quiet > "$dir/out"
  grep -q "trained 6 steps" "$dir/out"
  rm -rf "$dir/$1/checkpoints/step_00000006"
  "$lory" train --config "$dir/$1.json" --device "$3" --resume --quiet > "$dir/out"
  grep -q "trained 6 steps" "$dir/out"
  [ "$(grep -c '"grad_norm"' "$dir/$1/metrics.jsonl")" -eq 6 ] || { echo "$1: expected 6 step lines"; exit 1; }
  [ "$(grep -c '"upcycle"' "$dir/$1/metrics.jsonl")" -eq 1 ] || { echo "$1: expected one upcycle"; exit 1; }
}
switch gpu_cpu cuda cpu
switch cpu_gpu cpu cuda

# The same checkpoint scored on both devices: every "loss" and "loss_after_T", 1e-5 relative.
for run in gpu_cpu cpu_gpu; do
  for device in cpu cuda; do
    "$lory" eval --checkpoint "$dir/$run" --data "$dir/valid.bin" --seq-len 32 --batches 2 \
      --device "$device" --json | grep -E '"loss(_after_T)?":' | sed 's/.*: *//; s/,$//' > "$dir/$run.$device"
  done
  [ -s "$dir/$run.cpu" ] || { echo "$run: no losses in the eval output"; exit 1; }
  paste "$dir/$run.cpu" "$dir/$run.cuda" | awk -v run="$run" '
    { d = $1 - $2; if (d < 0) d = -d; if (NF != 2 || d > 1e-5 * $1) { print run ": eval differs: cpu " $1 ", cuda " $2; bad = 1 } }
    END { exit bad }'
done

# Outputs go to files first: grep -q on a pipe may stop the writer (SIGPIPE under pipefail).
"$lory" eval --checkpoint "$dir/gpu_cpu" --data "$dir/valid.bin" --seq-len 32 --batches 1 \
  --device cuda --precision bf16 > "$dir/out"
grep -q "ppl" "$dir/out"
"$lory" routing --checkpoint "$dir/cpu_gpu" --data "$dir/valid.bin" --seq-len 32 --batches 1 \
  --device cuda --out "$dir/routing.json"
grep -q js_divergence "$dir/routing.json"
"$lory" generate --checkpoint "$dir/cpu_gpu" --tokenizer "$dir/tok.json" --prompt "In the beginning" \
  --max-tokens 5 --device cuda --precision bf16
cat > "$dir/model.json" <<JSON
{"vocab": 512, "d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64, "max_seq": 32, "ffn": "lory", "n_experts": 4, "segment_len": 8}
JSON
"$lory" bench --config "$dir/model.json" --batch 2 --seq-len 32 --steps 2 --device cuda --precision tf32 > "$dir/out"
grep -q "tokens/s" "$dir/out"
echo "cli gpu: ok"

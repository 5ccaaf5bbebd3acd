#!/usr/bin/env bash
# The command line end to end on the committed sample corpus with a tiny model: tokenizer,
# shards, similarity order, training interrupted by Ctrl-C (SIGINT) and resumed, evaluation,
# routing analysis, generation and the report. Usage: cli_pipeline.sh LORY_BINARY SOURCE_DIR
set -euo pipefail
lory=$1
src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$lory" tokenizer train --corpus "$src/tests/data/corpus/sample.jsonl" --vocab 512 --out "$dir/tok.json"
"$lory" tokenize --corpus "$src/tests/data/corpus/sample.jsonl" --tokenizer "$dir/tok.json" --out-dir "$dir"
"$lory" order --corpus "$src/tests/data/corpus/sample.jsonl" --method similarity --out "$dir/order.json"
cat > "$dir/train.json" <<JSON
{
  "model": {"vocab": 512, "d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64, "max_seq": 32,
            "ffn": "lory", "n_experts": 4, "segment_len": 8},
  "data": {"train": "train.bin", "valid": "valid.bin", "order": "order.json", "seq_len": 32, "batch_size": 4},
  "optimizer": {"lr": 0.01},
  "steps": 5000, "log_interval": 10, "eval_interval": 0, "eval_batches": 1,
  "checkpoint_interval": 0, "out_dir": "run", "threads": 1
}
JSON

# Ctrl-C: the run saves a checkpoint and exits with status 130.
"$lory" train --config "$dir/train.json" --quiet &
pid=$!
sleep 2.5
kill -INT $pid
status=0
wait $pid || status=$?
[ "$status" -eq 130 ] || { echo "expected exit status 130 after SIGINT, got $status"; exit 1; }
ls "$dir/run/checkpoints"/step_* >/dev/null || { echo "no checkpoint after SIGINT"; exit 1; }
steps=$(ls -d "$dir/run/checkpoints"/step_* | tail -1 | sed 's/.*step_0*//')
echo "interrupted after $steps steps"

# Resume to the end (the same config: a different one would be refused).
"$lory" train --config "$dir/train.json" --resume --quiet | grep -q "trained 5000 steps"
"$lory" eval --checkpoint "$dir/run" --data "$dir/valid.bin" --seq-len 32 --batches 1 | grep -q "ppl"
# A shard from another tokenizer (a larger vocabulary) is named, not fed to the embedding.
mkdir "$dir/big"
"$lory" tokenizer train --corpus "$src/tests/data/corpus/sample.jsonl" --vocab 700 --out "$dir/big/tok.json"
"$lory" tokenize --corpus "$src/tests/data/corpus/sample.jsonl" --tokenizer "$dir/big/tok.json" --out-dir "$dir/big"
if "$lory" eval --checkpoint "$dir/run" --data "$dir/big/valid.bin" --seq-len 32 --batches 1 2>"$dir/err"; then
  echo "eval accepted a shard with a larger vocabulary"; exit 1
fi
grep -q "has vocabulary 700 but the model's vocab is 512" "$dir/err"
"$lory" routing --checkpoint "$dir/run" --data "$dir/valid.bin" --seq-len 32 --batches 1 --out "$dir/run/routing.json"
grep -q js_divergence "$dir/run/routing.json"
"$lory" generate --checkpoint "$dir/run" --tokenizer "$dir/tok.json" --prompt "In the beginning" --max-tokens 5 --routing segment
"$lory" report "$dir/run" --out "$dir/report.html"
grep -q "<svg" "$dir/report.html"
echo "cli pipeline: ok"

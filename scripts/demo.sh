#!/usr/bin/env bash
# The main job: install what is needed, build, build the default corpus (capped small), train a
# BPE tokenizer, tokenize, order the documents by similarity, train a small Lory-8E model on the
# CPU (dense warm-up included, about 10 minutes) and its parameter-matched dense model, evaluate
# per domain, analyse routing, and write an HTML report. Everything goes under work/demo/.
#   DEMO_STEPS=N overrides the number of training steps of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=work/demo
lory=build/lory
bash scripts/build.sh >/dev/null
mkdir -p "$demo"

step() { printf '\n== %s\n' "$*"; }

step "corpus (9 domains, capped at 450 KB each)"
[ -f "$demo/corpus.jsonl" ] || $lory corpus --out "$demo/corpus.jsonl" --max-bytes 450K --cache work/cache
step "tokenizer (byte-level BPE, 4096 tokens)"
[ -f "$demo/tokenizer.json" ] || $lory tokenizer train --corpus "$demo/corpus.jsonl" --vocab 4096 --out "$demo/tokenizer.json"
step "token shards"
[ -f "$demo/valid.bin" ] || $lory tokenize --corpus "$demo/corpus.jsonl" --tokenizer "$demo/tokenizer.json" --out-dir "$demo"
step "similarity order (TF-IDF, kNN, In-Context Pretraining path)"
[ -f "$demo/order_similarity.json" ] || $lory order --corpus "$demo/corpus.jsonl" --method similarity --out "$demo/order_similarity.json"

for run in lory dense; do
  config=examples/configs/cpu_small_$run.json
  if [ -n "${DEMO_STEPS:-}" ]; then
    python3 - "$config" "$demo/$run.json" "$DEMO_STEPS" "$root" <<'PY'
import json, os, sys
cfg = json.load(open(sys.argv[1])); cfg["steps"] = int(sys.argv[3])
base = os.path.dirname(os.path.abspath(sys.argv[1]))
for section, key in [("data", "train"), ("data", "valid"), ("data", "order")]:
    cfg[section][key] = os.path.normpath(os.path.join(base, cfg[section][key]))
cfg["out_dir"] = os.path.normpath(os.path.join(base, cfg["out_dir"]))
cfg["eval_interval"] = max(1, int(sys.argv[3]) // 4); cfg["checkpoint_interval"] = 0
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY
    config=$demo/$run.json
  fi
  step "train $run ($config)"
  $lory train --config "$config"
done

step "routing analysis of the Lory model"
$lory routing --checkpoint "$demo/runs/lory8e" --data "$demo/valid.bin" --out "$demo/runs/lory8e/routing.json"
step "per-domain perplexity (the last column scores positions >= T = 64 for both models)"
for run in lory8e dense; do
  echo "$run:"
  $lory eval --checkpoint "$demo/runs/$run" --data "$demo/valid.bin" --batches 8 --skip 64
done
step "sample (prompt-only routing)"
$lory generate --checkpoint "$demo/runs/lory8e" --tokenizer "$demo/tokenizer.json" --prompt "The Lord said unto" --max-tokens 40 --seed 1
step "report"
$lory report "$demo/runs/lory8e" "$demo/runs/dense" --out "$demo/report.html"
echo
echo "done: open $root/$demo/report.html"

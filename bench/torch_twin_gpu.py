#!/usr/bin/env python3
"""Training-step throughput of the PyTorch twin (tests/reference/lory_twin.py) on CUDA with bf16
autocast (fp32 master weights, fused AdamW), eager and torch.compile, for the GPU bench configs
of bench/bench_gpu_model.cpp. Prints a table; each row is followed by the same numbers as one
JSON line (printed as the run ends, so a time-boxed caller keeps what finished).

    torch_twin_gpu.py [--config a|b|all] [--ffn dense|lory|all] [--modes eager,compile]
                      [--steps 5] [--attention sdpa|naive]

--attention sdpa (default) swaps the twin's naive attention (which materialises the (B,H,L,L)
scores) for torch's fused scaled_dot_product_attention with the same RoPE and causal mask:
PyTorch at its best; naive runs the twin exactly as written.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import lory_twin  # noqa: E402

CONFIGS = {
    "a": dict(vocab=8192, d_model=512, n_layers=8, n_heads=8, d_ff=1408, max_seq=1024,
              n_experts=8, segment_len=128, batch=32, seq_len=1024),
    "b": dict(vocab=32000, d_model=1024, n_layers=24, n_heads=16, d_ff=2816, max_seq=4096,
              n_experts=8, segment_len=256, batch=4, seq_len=4096),
}


def sdpa_attention(x, p, pre, cfg):
    B, L, D = x.shape
    H = cfg["n_heads"]
    heads = lambda w: (x @ w).view(B, L, H, D // H).transpose(1, 2)
    q = lory_twin.rope(heads(p[pre + "wq"]), cfg["rope_theta"])
    k = lory_twin.rope(heads(p[pre + "wk"]), cfg["rope_theta"])
    v = heads(p[pre + "wv"])
    o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    return o.transpose(1, 2).reshape(B, L, D) @ p[pre + "wo"]


def flops_per_token(cfg, L):  # as train/step_bench.h: 6 · active non-embedding params + attention
    D, F = cfg["d_model"], cfg["d_ff"]
    non_embedding = cfg["n_layers"] * (4 * D * D + 3 * D * F) + D * cfg["vocab"]
    return 6 * non_embedding + 6 * cfg["n_layers"] * L * D


def run(cfg, mode, steps, B, L):
    dev = torch.device("cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    params = lory_twin.init_params(cfg, dev)
    try:
        opt = torch.optim.AdamW(params.values(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(params.values(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, cfg["vocab"], (B, L + 1), dtype=torch.int32, device=dev)
    x, y = ids[:, :-1], ids[:, 1:]
    fn = lory_twin.loss_fn
    if mode == "compile":
        fn = torch.compile(lory_twin.loss_fn)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = fn(cfg, params, x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t0 = time.perf_counter()
    step()  # warm-up (and compilation)
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    tps = B * L / med
    return {"tokens_per_s": tps, "step_ms": med * 1e3, "tflops": tps * flops_per_token(cfg, L) / 1e12,
            "max_memory_allocated": torch.cuda.max_memory_allocated(), "warmup_s": warm_s,
            "loss": float(loss.detach())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="all")
    ap.add_argument("--ffn", default="all")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "naive"])
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_twin_gpu: no CUDA device visible to torch", file=sys.stderr)
        return 77
    if args.attention == "sdpa":
        lory_twin.attention = sdpa_attention
    print(f"PyTorch {torch.__version__} twin on {torch.cuda.get_device_name()}, bf16 autocast, "
          f"attention {args.attention}, {args.steps} timed steps (median)")
    print(f"{'run':<20} {'tokens/s':>10} {'TFLOP/s':>9} {'step ms':>9} {'max alloc MiB':>14} {'warm-up s':>10}")
    failed = 0
    for name, c in CONFIGS.items():
        if args.config not in ("all", name):
            continue
        for ffn in ("dense", "lory"):
            if args.ffn not in ("all", ffn):
                continue
            cfg = {k: v for k, v in c.items() if k not in ("batch", "seq_len")}
            cfg.update(ffn=ffn, rope_theta=10000.0, norm_eps=1e-5, first_segment="self_stopgrad")
            for mode in args.modes.split(","):
                label = f"{name} {ffn} {mode}"
                try:
                    r = run(cfg, mode, args.steps, c["batch"], c["seq_len"])
                except Exception as e:  # OOM, compile failure: report and go on
                    print(f"{label:<20} FAILED: {type(e).__name__}: {str(e).splitlines()[0][:160]}", flush=True)
                    failed += 1
                    torch.cuda.empty_cache()
                    continue
                print(f"{label:<20} {r['tokens_per_s']:>10.0f} {r['tflops']:>9.1f} {r['step_ms']:>9.1f} "
                      f"{r['max_memory_allocated'] / 2**20:>14.0f} {r['warmup_s']:>10.1f}", flush=True)
                print(json.dumps({"config": name, "ffn": ffn, "mode": mode, "attention": args.attention, **r}),
                      flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

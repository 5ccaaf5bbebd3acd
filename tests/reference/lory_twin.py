#!/usr/bin/env python3
"""An independent PyTorch implementation of the lory.cpp model (dense and Lory FFNs).

It reads a model config (JSON), weights and a batch (safetensors, read here with the standard
library so that only torch is needed), computes the loss and the gradient of every parameter,
and writes them to a safetensors file: the C++ test compares them with the engine's own.

    lory_twin.py --config model.json --inputs in.safetensors --out out.safetensors

Conventions shared with lory.cpp (and nothing else is shared): weights are x·W (In, Out); RoPE
rotates pairs (i, i + Dh/2) with frequency theta^(-2i/Dh); RMSNorm is x·rsqrt(mean(x²)+eps)·w;
Lory follows LORY.md §2 (segment means, softmax router, causal shift, merged experts).
"""
import argparse
import json
import math
import struct

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):  # x (B,H,L,Dh)
    L, Dh = x.shape[2], x.shape[3]
    half = Dh // 2
    freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64, device=x.device) / Dh)
    angle = torch.arange(L, dtype=torch.float64, device=x.device)[:, None] * freq[None, :]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(x, p, pre, cfg):
    B, L, D = x.shape
    H = cfg["n_heads"]
    Dh = D // H
    heads = lambda w: (x @ w).view(B, L, H, Dh).transpose(1, 2)
    q = rope(heads(p[pre + "wq"]), cfg["rope_theta"])
    k = rope(heads(p[pre + "wk"]), cfg["rope_theta"])
    v = heads(p[pre + "wv"])
    s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
    mask = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
    s = s.masked_fill(~mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ v
    return o.transpose(1, 2).reshape(B, L, D) @ p[pre + "wo"]


def dense_ffn(h, p, pre):
    return (torch.nn.functional.silu(h @ p[pre + "w1"]) * (h @ p[pre + "w3"])) @ p[pre + "w2"]


def lory_ffn(h, p, pre, cfg):
    B, L, D = h.shape
    T, E = cfg["segment_len"], cfg["n_experts"]
    N = (L + T - 1) // T
    # 1. segment means (a partial last segment averages what it has)
    hbar = torch.stack([h[:, k * T:(k + 1) * T].mean(1) for k in range(N)], 1)  # (B,N,D)
    # 2. router weights
    e = torch.softmax(hbar @ p[pre + "router"], dim=-1)                          # (B,N,E)
    # 3. causal shift
    if cfg["first_segment"] == "uniform":
        first = torch.full((B, 1, E), 1.0 / E, dtype=e.dtype, device=h.device)
    else:
        first = e[:, :1].detach()
    e_hat = torch.cat([first, e[:, :N - 1]], 1)
    # 4. merge in parameter space, 5. per-segment SwiGLU
    w1 = torch.einsum("bne,edf->bndf", e_hat, p[pre + "w1"])
    w3 = torch.einsum("bne,edf->bndf", e_hat, p[pre + "w3"])
    w2 = torch.einsum("bne,efd->bnfd", e_hat, p[pre + "w2"])
    out = []
    for k in range(N):
        x = h[:, k * T:(k + 1) * T]
        a = torch.bmm(x, w1[:, k])
        g = torch.bmm(x, w3[:, k])
        out.append(torch.bmm(torch.nn.functional.silu(a) * g, w2[:, k]))
    return torch.cat(out, 1)


DEFAULTS = {"norm_eps": 1e-5, "rope_theta": 10000.0, "first_segment": "self_stopgrad"}


def loss_fn(cfg, p, ids, targets):
    cfg = {**DEFAULTS, **cfg}
    x = p["tok_emb"][ids.long()]
    for i in range(cfg["n_layers"]):
        pre = f"layers.{i}."
        x = x + attention(rmsnorm(x, p[pre + "attn_norm"], cfg["norm_eps"]), p, pre + "attn.", cfg)
        h = rmsnorm(x, p[pre + "ffn_norm"], cfg["norm_eps"])
        if cfg["ffn"] == "dense":
            x = x + dense_ffn(h, p, pre + "ffn.")
        elif cfg["ffn"] == "lory":
            x = x + lory_ffn(h, p, pre + "ffn.", cfg)
        else:
            raise SystemExit(f"lory_twin: ffn '{cfg['ffn']}' is not implemented by the twin")
    logits = rmsnorm(x, p["norm"], cfg["norm_eps"]) @ p["lm_head"]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             targets.reshape(-1).long())


def init_params(cfg, device="cpu"):
    """Random parameters for benchmarks (N(0, 0.02) matrices, unit norms), seeded by cfg["seed"]."""
    D, V, F, E = cfg["d_model"], cfg["vocab"], cfg["d_ff"], cfg.get("n_experts", 1)
    g = torch.Generator(device="cpu").manual_seed(cfg.get("seed", 0))
    rnd = lambda *s: (torch.randn(*s, generator=g) * 0.02).to(device).requires_grad_()
    ones = lambda: torch.ones(D, device=device, requires_grad=True)
    p = {"tok_emb": rnd(V, D), "norm": ones(), "lm_head": rnd(D, V)}
    for i in range(cfg["n_layers"]):
        pre = f"layers.{i}."
        p[pre + "attn_norm"], p[pre + "ffn_norm"] = ones(), ones()
        for w in ("wq", "wk", "wv", "wo"):
            p[pre + "attn." + w] = rnd(D, D)
        if cfg["ffn"] == "dense":
            p[pre + "ffn.w1"], p[pre + "ffn.w3"], p[pre + "ffn.w2"] = rnd(D, F), rnd(D, F), rnd(F, D)
        else:
            p[pre + "ffn.router"] = rnd(D, E)
            p[pre + "ffn.w1"], p[pre + "ffn.w3"], p[pre + "ffn.w2"] = rnd(E, D, F), rnd(E, D, F), rnd(E, F, D)
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--inputs", required=True, help="weights plus 'ids' and 'targets' (i32)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    t = read_safetensors(args.inputs)
    ids, targets = t.pop("ids"), t.pop("targets")
    params = {k: v.requires_grad_() for k, v in t.items()}
    loss = loss_fn(cfg, params, ids, targets)
    loss.backward()
    out = {"loss": loss.detach().reshape(())}
    out.update({"grad." + k: v.grad for k, v in params.items()})
    write_safetensors(args.out, out)


if __name__ == "__main__":
    main()

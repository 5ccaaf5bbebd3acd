// Every op of lory.cpp, with shapes. Include this one header to use them all.
// Letters: B batch, L sequence, N segments, T segment length, D width, F FFN width, H heads,
// Dh head width, E experts, V vocabulary. Every op is differentiable unless marked.
#pragma once
#include "core/autograd.h"
#include "core/tensor.h"

// Element-wise and reductions
#include "ops/scale.h"          // scale(x, alpha)                      (...) -> (...)
#include "ops/binary.h"         // add, sub, mul, div(a, b)             (...) op (suffix of ...) -> (...)
                                // add_scalar, mul_scalar(x, c)         (...) -> (...)
#include "ops/unary.h"          // neg, exp, log, sqrt, square          (...) -> (...)
#include "ops/reduce.h"         // sum, mean(x)                         (...) -> ()
                                // sum, mean(x, dim, keepdim)           (..., dk, ...) -> (..., ...)
#include "ops/activation.h"     // silu, gelu(x)                        (...) -> (...)
#include "ops/swiglu.h"         // swiglu(a, b) = silu(a) * b           (..., F), (..., F) -> (..., F)
#include "ops/dropout.h"        // dropout(x, p, gen, training)         (...) -> (...)

// Linear algebra and layout
#include "ops/matmul.h"         // matmul(a, b, ta, tb)                 (..., M, K)·(K, N) -> (..., M, N)
#include "ops/linear.h"         // linear(x, w)                         (..., In)·(In, Out) -> (..., Out)
#include "ops/reshape.h"        // reshape(x, shape)                    (...) -> shape (a view)
#include "ops/transpose.h"      // permute(x, dims), transpose          (B, L, H, Dh) -> (B, H, L, Dh)
#include "ops/narrow.h"         // narrow(x, dim, start, length)        (.., n, ..) -> (.., length, ..)
#include "ops/concat.h"         // concat(xs, dim)                      (.., n_i, ..) -> (.., Σ n_i, ..)
#include "ops/embedding.h"      // embedding(ids, table)                i32 (...), (V, D) -> (..., D)
#include "ops/index.h"          // index_select_rows(x, idx)            (M, D), i32 (K) -> (K, D)
                                // index_add_rows(src, idx, M)          (K, D), i32 (K) -> (M, D)
                                // take_along_last(x, idx)              (M, E), i32 (M, K) -> (M, K)
                                // topk_indices(x, K)  [not diff.]      (M, E) -> i32 (M, K)
#include "ops/scale_rows.h"     // scale_rows(x, s)                     (M, D), (M) -> (M, D)

// Transformer and Lory
#include "ops/rmsnorm.h"        // rmsnorm(x, weight, eps)              (..., D), (D) -> (..., D)
#include "ops/softmax.h"        // softmax(x), log_softmax(x)           (..., V) -> (..., V)
#include "ops/cross_entropy.h"  // cross_entropy(logits, targets)       (..., V), i32 (...) -> ()
#include "ops/rope.h"           // rope(x, pos_offset, theta)           (B, H, L, Dh) -> same
#include "ops/attention.h"      // causal_attention(q, k, v)            (B,H,Lq,Dh), (B,H,Lk,Dh) x2 -> (B,H,Lq,Dh)
#include "ops/segment_mean.h"   // segment_mean(x, T)                   (B, L, D) -> (B, ceil(L/T), D)
#include "ops/lory_ffn.h"       // lory_ffn(x, route, w1, w3, w2, T)    (B,L,D), (B,N,E), experts -> (B,L,D)

// Mixed precision
#include "ops/cast.h"           // cast(x, dtype)                       (...) -> (...) in dtype

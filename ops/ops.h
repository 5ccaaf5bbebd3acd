// Every op of lory.cpp, with shapes. Include this one header to use them all.
// Letters: B batch, L sequence, N segments, T segment length, D width, F FFN width, H heads,
// Dh head width, E experts, V vocabulary.
#pragma once
#include "core/autograd.h"
#include "core/tensor.h"

#include "ops/scale.h"         // scale(x, alpha)                 (...) -> (...)
#include "ops/rmsnorm.h"       // rmsnorm(x, weight, eps)          (..., D), (D) -> (..., D)
#include "ops/softmax.h"       // softmax(x), log_softmax(x)       (..., V) -> (..., V)
#include "ops/cross_entropy.h" // cross_entropy(logits, targets)   (..., V), i32 (...) -> ()
#include "ops/rope.h"          // rope(x, pos_offset, theta)       (B, H, L, Dh) -> same
#include "ops/attention.h"     // causal_attention(q, k, v)        (B,H,Lq,Dh), (B,H,Lk,Dh) x2 -> (B,H,Lq,Dh)
#include "ops/segment_mean.h"  // segment_mean(x, T)               (B, L, D) -> (B, ceil(L/T), D)

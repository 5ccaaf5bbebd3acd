// Every op of lory.cpp, with shapes. Include this one header to use them all.
// Letters: B batch, L sequence, N segments, T segment length, D width, F FFN width, H heads,
// Dh head width, E experts, V vocabulary.
#pragma once
#include "core/autograd.h"
#include "core/tensor.h"

#include "ops/scale.h"         // scale(x, alpha)                 (...) -> (...)
#include "ops/matmul.h"        // matmul(a, b, ta, tb)            (..., M, K)·(K, N) -> (..., M, N)
#include "ops/linear.h"        // linear(x, w)                    (..., In)·(In, Out) -> (..., Out)
#include "ops/reshape.h"       // reshape(x, shape)               (...) -> shape (a view)
#include "ops/transpose.h"     // permute(x, dims), transpose     (B, L, H, Dh) -> (B, H, L, Dh)
#include "ops/narrow.h"        // narrow(x, dim, start, length)   (.., n, ..) -> (.., length, ..)
#include "ops/concat.h"        // concat(xs, dim)                 (.., n_i, ..) -> (.., sum n_i, ..)
#include "ops/embedding.h"     // embedding(ids, table)           i32 (...), (V, D) -> (..., D)

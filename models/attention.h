// Causal multi-head self-attention with RoPE, and its KV cache for incremental decoding.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "models/config.h"

namespace lory {

// Keys and values of the tokens seen so far, (B,H,len,Dh) each; empty before the first call.
struct KVCache {
  Tensor k, v;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

struct Attention {
  Tensor wq, wk, wv, wo;  // (D,D) each; y = x·W
  int64_t n_heads = 1;
  double rope_theta = 10000.0;

  void init(const ModelConfig& c, Generator& gen, double out_std);
  void collect(const std::string& prefix, NamedParams& out) const;
  // x (B,L,D) -> (B,L,D). With a cache, x holds the L tokens that follow the cached ones (their
  // positions start at cache->length()) and the cache is extended by them.
  Tensor forward(const Tensor& x, KVCache* cache = nullptr) const;
};

}  // namespace lory

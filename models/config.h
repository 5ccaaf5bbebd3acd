// ModelConfig: the shape of a decoder-only transformer and its FFN kind (dense, Lory MoE or
// token-level top-k MoE), read from JSON with every key checked.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace lory {

enum class FfnKind { dense, lory, topk };
// How a Lory layer routes segment 1, which has no previous segment (LORY.md §2, step 3).
enum class FirstSegment { self_stopgrad, uniform };

struct ModelConfig {
  int64_t vocab = 4096;         // V
  int64_t d_model = 256;        // D
  int64_t n_layers = 4;
  int64_t n_heads = 4;          // H; head width Dh = D / H
  int64_t d_ff = 0;             // F; 0 means the default 64·ceil(8D/3/64)
  int64_t max_seq = 256;        // longest sequence (positions for RoPE, KV cache size)
  FfnKind ffn = FfnKind::lory;
  int64_t n_experts = 8;        // E (lory, topk)
  int64_t segment_len = 64;     // T (lory)
  FirstSegment first_segment = FirstSegment::self_stopgrad;
  int64_t top_k = 2;            // experts per token (topk)
  double aux_loss_weight = 0.01;  // Switch load-balancing loss weight (topk)
  double z_loss_weight = 0.001;   // router z-loss weight (topk)
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  double init_std = 0.02;       // weights ~ N(0, init_std²); output projections scaled by 1/sqrt(2·layers)
  double router_std = 0.02;     // Lory/top-k router ~ N(0, router_std²); must not be 0 (LORY.md §2)
  uint64_t seed = 1234;         // initialisation seed

  int64_t head_dim() const { return d_model / n_heads; }
  int64_t ffn_width() const;    // d_ff or its default
  bool is_moe() const { return ffn != FfnKind::dense; }

  // Throws lory::Error naming the key and the value for anything impossible.
  void validate() const;
  // Training and perplexity evaluation route whole segments: L must be a multiple of T.
  void validate_sequence_length(int64_t L) const;

  static ModelConfig from_json(const nlohmann::json& j);  // unknown keys are rejected
  static ModelConfig from_file(const std::string& path);
  nlohmann::json to_json() const;
};

const char* ffn_kind_name(FfnKind k);
const char* first_segment_name(FirstSegment m);

}  // namespace lory

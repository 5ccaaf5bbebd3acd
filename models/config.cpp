// ModelConfig: JSON reading with every key checked, validation, defaults.
#include "models/config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_reader.h"

namespace lory {

const char* ffn_kind_name(FfnKind k) {
  switch (k) {
    case FfnKind::dense: return "dense";
    case FfnKind::lory: return "lory";
    case FfnKind::topk: return "topk";
  }
  return "?";
}

const char* first_segment_name(FirstSegment m) {
  return m == FirstSegment::self_stopgrad ? "self_stopgrad" : "uniform";
}

int64_t ModelConfig::ffn_width() const {
  if (d_ff > 0) return d_ff;
  return 64 * ((d_model + 23) / 24);  // 64·ceil((8D/3)/64), and (8D/3)/64 = D/24
}

void ModelConfig::validate() const {
  auto positive = [](const char* key, int64_t v) {
    LORY_CHECK(v >= 1, "model config: '", key, "' is ", v, "; expected a positive integer");
  };
  positive("vocab", vocab);
  positive("d_model", d_model);
  positive("n_layers", n_layers);
  positive("n_heads", n_heads);
  positive("max_seq", max_seq);
  LORY_CHECK(d_ff >= 0, "model config: 'd_ff' is ", d_ff, "; expected > 0 (or 0 for the default)");
  LORY_CHECK(d_model % n_heads == 0, "model config: 'd_model' ", d_model,
             " is not divisible by 'n_heads' ", n_heads);
  LORY_CHECK(head_dim() % 2 == 0, "model config: head width d_model/n_heads = ", head_dim(),
             " is odd; RoPE needs an even head width");
  LORY_CHECK(rope_theta > 0, "model config: 'rope_theta' is ", rope_theta, "; expected > 0");
  LORY_CHECK(norm_eps > 0, "model config: 'norm_eps' is ", norm_eps, "; expected > 0");
  LORY_CHECK(init_std > 0, "model config: 'init_std' is ", init_std, "; expected > 0");
  if (ffn == FfnKind::dense) return;
  positive("n_experts", n_experts);
  LORY_CHECK(router_std > 0, "model config: 'router_std' is ", router_std,
             "; expected > 0 (a zero router never breaks the symmetry of upcycled experts)");
  if (ffn == FfnKind::lory) {
    positive("segment_len", segment_len);
    LORY_CHECK(segment_len <= max_seq, "model config: 'segment_len' ", segment_len,
               " exceeds 'max_seq' ", max_seq);
  } else {
    LORY_CHECK(top_k >= 1 && top_k <= n_experts, "model config: 'top_k' is ", top_k,
               "; expected 1..n_experts (", n_experts, ")");
    LORY_CHECK(aux_loss_weight >= 0 && z_loss_weight >= 0,
               "model config: loss weights must be >= 0 (aux_loss_weight ", aux_loss_weight,
               ", z_loss_weight ", z_loss_weight, ")");
  }
}

void ModelConfig::validate_sequence_length(int64_t L) const {
  LORY_CHECK(L >= 1 && L <= max_seq, "sequence length ", L, " is outside 1..max_seq (", max_seq,
             ")");
  if (ffn == FfnKind::lory)
    LORY_CHECK(L % segment_len == 0, "sequence length ", L,
               " is not a multiple of the Lory segment length ", segment_len,
               "; training routes whole segments (LORY.md §3)");
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  JsonReader r(j, "model config");
  ModelConfig c;
  c.vocab = r.get_int("vocab", c.vocab);
  c.d_model = r.get_int("d_model", c.d_model);
  c.n_layers = r.get_int("n_layers", c.n_layers);
  c.n_heads = r.get_int("n_heads", c.n_heads);
  c.d_ff = r.get_int("d_ff", c.d_ff);
  c.max_seq = r.get_int("max_seq", c.max_seq);
  std::string ffn = r.get_choice("ffn", "lory", {"dense", "lory", "topk"});
  c.ffn = ffn == "dense" ? FfnKind::dense : ffn == "lory" ? FfnKind::lory : FfnKind::topk;
  c.n_experts = r.get_int("n_experts", c.n_experts);
  c.segment_len = r.get_int("segment_len", c.segment_len);
  c.first_segment = r.get_choice("first_segment", "self_stopgrad", {"self_stopgrad", "uniform"}) ==
                            "uniform"
                        ? FirstSegment::uniform
                        : FirstSegment::self_stopgrad;
  c.top_k = r.get_int("top_k", c.top_k);
  c.aux_loss_weight = r.get_double("aux_loss_weight", c.aux_loss_weight);
  c.z_loss_weight = r.get_double("z_loss_weight", c.z_loss_weight);
  c.rope_theta = r.get_double("rope_theta", c.rope_theta);
  c.norm_eps = r.get_double("norm_eps", c.norm_eps);
  c.init_std = r.get_double("init_std", c.init_std);
  c.router_std = r.get_double("router_std", c.router_std);
  int64_t seed = r.get_int("seed", static_cast<int64_t>(c.seed));
  LORY_CHECK(seed >= 0, "model config: 'seed' is ", seed, "; expected >= 0");
  c.seed = static_cast<uint64_t>(seed);
  r.finish();
  c.validate();
  return c;
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  const nlohmann::json j = read_json_file(path);  // its errors name the file
  try {
    return from_json(j);
  } catch (const Error& e) {
    LORY_FAIL(path, ": ", e.what());
  }
}

nlohmann::json ModelConfig::to_json() const {
  return {{"vocab", vocab},
          {"d_model", d_model},
          {"n_layers", n_layers},
          {"n_heads", n_heads},
          {"d_ff", ffn_width()},
          {"max_seq", max_seq},
          {"ffn", ffn_kind_name(ffn)},
          {"n_experts", n_experts},
          {"segment_len", segment_len},
          {"first_segment", first_segment_name(first_segment)},
          {"top_k", top_k},
          {"aux_loss_weight", aux_loss_weight},
          {"z_loss_weight", z_loss_weight},
          {"rope_theta", rope_theta},
          {"norm_eps", norm_eps},
          {"init_std", init_std},
          {"router_std", router_std},
          {"seed", seed}};
}

}  // namespace lory

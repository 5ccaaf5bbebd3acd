// The dense SwiGLU FFN and the factory that builds a block's FFN from the config.
#include "models/ffn.h"

#include "models/lory_moe.h"
#include "models/topk_moe.h"
#include "ops/ops.h"

namespace lory {

DenseFfn::DenseFfn(const ModelConfig& c, Generator& gen, double out_std) {
  const int64_t D = c.d_model, F = c.ffn_width();
  w1 = Tensor::randn({D, F}, gen, c.init_std).set_requires_grad();
  w3 = Tensor::randn({D, F}, gen, c.init_std).set_requires_grad();
  w2 = Tensor::randn({F, D}, gen, out_std).set_requires_grad();
}

Tensor DenseFfn::forward(const Tensor& h, FfnDecodeState*) {
  const DType dt = h.dtype();  // compute dtype: the weights are cast to it (mixed precision)
  return ops::linear(
      ops::swiglu(ops::linear(h, ops::cast(w1, dt)), ops::linear(h, ops::cast(w3, dt))),
      ops::cast(w2, dt));
}

void DenseFfn::collect(const std::string& prefix, NamedParams& out) const {
  out.push_back({prefix + "w1", w1});
  out.push_back({prefix + "w3", w3});
  out.push_back({prefix + "w2", w2});
}

std::unique_ptr<FeedForward> make_ffn(const ModelConfig& c, Generator& gen, double out_std) {
  switch (c.ffn) {
    case FfnKind::dense: return std::make_unique<DenseFfn>(c, gen, out_std);
    case FfnKind::lory: return std::make_unique<LoryMoE>(c, gen, out_std);
    case FfnKind::topk: return std::make_unique<TopKMoE>(c, gen, out_std);
  }
  return nullptr;
}

}  // namespace lory

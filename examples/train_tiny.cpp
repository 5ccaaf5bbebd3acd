// Trains a tiny Lory model for a few dozen steps on a toy two-"domain" token stream and prints
// how the routing weights of each layer move: the mean weight of every expert on sequences of
// domain A and of domain B, before and after training.
//
//   ./build/example_train_tiny
#include <cstdio>

#include "models/transformer.h"
#include "ops/ops.h"
#include "train/adamw.h"

using namespace lory;

namespace {

// Domain A counts up through tokens 0..15, domain B counts down through 16..31.
Tensor batch_of(int domain, int64_t B, int64_t L, Generator& gen) {
  std::vector<int32_t> ids(B * (L + 1));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t start = static_cast<int64_t>(gen.below(16));
    for (int64_t t = 0; t <= L; ++t)
      ids[b * (L + 1) + t] = static_cast<int32_t>(domain == 0 ? (start + t) % 16 : 16 + (start + 16 - t % 16) % 16);
  }
  return Tensor::from_vector(ids, {B, L + 1});
}

// Mean routing weight per expert of every layer for a batch of one domain.
void print_routing(Transformer& model, const Tensor& tokens, const char* label) {
  NoGradGuard no_grad;
  model.forward(ops::narrow(tokens, 1, 0, tokens.size(1) - 1));
  std::printf("  %s", label);
  for (const Tensor& w : model.routing_weights()) {
    auto v = ops::mean(ops::mean(w, 0), 0).to_vector<double>();
    std::printf("  [");
    for (double x : v) std::printf(" %.2f", x);
    std::printf(" ]");
  }
  std::printf("\n");
}

}  // namespace

int main() {
  ModelConfig c;
  c.vocab = 32;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 64;
  c.max_seq = 32;
  c.n_experts = 4;
  c.segment_len = 8;
  Transformer model(c);
  AdamW opt(model.parameters(), AdamWOptions{});
  Generator gen(1);
  const int64_t B = 8, L = 32;
  Tensor probe_a = batch_of(0, B, L, gen), probe_b = batch_of(1, B, L, gen);
  std::printf("mean routing weight per expert, one bracket per layer\nbefore training:\n");
  print_routing(model, probe_a, "domain A:");
  print_routing(model, probe_b, "domain B:");
  for (int step = 1; step <= 60; ++step) {
    Tensor tokens = batch_of(step % 2, B, L, gen);  // alternate the domains
    Tensor x = ops::narrow(tokens, 1, 0, L), y = ops::narrow(tokens, 1, 1, L);
    Tensor loss = model.loss(x, y).total;
    loss.backward();
    clip_grad_norm(model.parameters(), 1.0);
    opt.step(3e-3);
    opt.zero_grad();
    if (step % 15 == 0) std::printf("step %2d  loss %.4f\n", step, loss.item());
  }
  std::printf("after training:\n");
  print_routing(model, probe_a, "domain A:");
  print_routing(model, probe_b, "domain B:");
  return 0;
}

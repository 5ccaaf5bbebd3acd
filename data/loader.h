// Batch loader (LORY.md §5 step 4): documents in a chosen order, each followed by the
// end-of-text token, form one token stream; the stream is cut into instances of L+1 tokens,
// and every epoch serves all instances once, in a seeded shuffle, B rows per batch and rank.
//
//   LoaderOptions opt;  opt.batch_size = 8;  opt.seq_len = 256;  opt.eot = eot_id;  opt.seed = 1;
//   Loader loader(shard, order_indices(order.ids, *shard, "train.order"), opt);
//   Batch b = loader.next();                  // b.tokens: i32 (B, L+1)
//   Tensor x = b.inputs(), y = b.targets();   // (B, L) each: y[r][t] = tokens[r][t+1]
//   json s = loader.state();  ...  fresh.load_state(s);   // fresh serves the same batches
//
// Cutting: instance i is stream[i*(L+1), (i+1)*(L+1)); the last partial instance (fewer than
// L+1 tokens, see dropped_tokens()) is dropped, so every row is a full training example.
// Epochs run back to back as one stream of rows: a batch that reaches the end of an epoch is
// completed from the next epoch's shuffle, so batches always have B rows and each epoch still
// serves every instance exactly once.
// Ranks: global batch s is rows [s*B*R, (s+1)*B*R) of that stream, and rank r takes the B rows
// starting at s*B*R + r*B: ranks see disjoint rows that together cover the global batch.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/tensor.h"
#include "data/shards.h"

namespace lory {

struct LoaderOptions {
  int64_t batch_size = 1;  // B: rows per batch on this rank
  int64_t seq_len = 1;     // L: a row holds L+1 tokens
  int32_t eot = 0;         // end-of-text token placed after every document
  uint64_t seed = 0;       // instance shuffle; epoch e uses counters [e*n, (e+1)*n) of it
  bool shuffle = true;     // false: instances in stream order (evaluation)
  int rank = 0;            // this rank, 0 <= rank < world
  int world = 1;           // R: number of ranks sharing the stream
};

struct Batch {
  Tensor tokens;                   // i32 (B, L+1)
  std::vector<int64_t> instances;  // the instance behind each row
  int64_t epoch = 0;               // epoch of the first row
  int64_t step = 0;                // global batch index since the first epoch began
  Tensor inputs() const;           // i32 (B, L): tokens[:, 0:L]
  Tensor targets() const;          // i32 (B, L): tokens[:, 1:L+1]
};

class Loader {
 public:
  // `order`: document indices of `shard` in stream order (each at most once; documents may be
  // left out, e.g. near-duplicates).
  Loader(std::shared_ptr<const ShardData> shard, std::vector<int64_t> order, LoaderOptions options);

  Batch next();

  int64_t num_instances() const { return num_instances_; }
  int64_t stream_tokens() const { return doc_start_.back(); }  // documents + end-of-text tokens
  int64_t dropped_tokens() const {
    return stream_tokens() - num_instances_ * (options_.seq_len + 1);
  }
  int64_t steps_per_epoch() const;  // global batches per epoch, rounded up
  // Copies instance i's L+1 tokens to out.
  void instance_tokens(int64_t instance, int32_t* out) const;

  // {"format": "lory-loader", "epoch", "position" (rows of this epoch already served, over all
  // ranks), "step", "seed", "rng_offset" (first counter of this epoch's shuffle), and the
  // sizes that must match on restore: "instances", "seq_len", "batch_size", "world"}.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  void shuffle_epoch();

  std::shared_ptr<const ShardData> shard_;
  std::vector<int64_t> order_;
  std::vector<int64_t> doc_start_;  // stream offset of order_[p]; back() = stream length
  LoaderOptions options_;
  int64_t num_instances_ = 0;
  int64_t epoch_ = 0, position_ = 0, step_ = 0;
  std::vector<int64_t> perm_;  // this epoch's instance order
};

}  // namespace lory

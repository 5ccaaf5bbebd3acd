// Batch loader: ordered documents -> token stream -> instances of L+1 tokens -> seeded,
// resumable, rank-partitioned batches (the rules are in loader.h).
#include "data/loader.h"

#include <algorithm>

#include "core/error.h"
#include "core/random.h"

namespace lory {
namespace {

Tensor columns(const Tensor& tokens, int64_t first, int64_t count) {
  int64_t rows = tokens.size(0), width = tokens.size(1);
  Tensor out = Tensor::empty({rows, count}, DType::i32);
  const int32_t* src = tokens.data<int32_t>();
  int32_t* dst = out.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r)
    std::copy(src + r * width + first, src + r * width + first + count, dst + r * count);
  return out;
}

}  // namespace

Tensor Batch::inputs() const {
  return columns(tokens, 0, tokens.size(1) - 1);
}
Tensor Batch::targets() const {
  return columns(tokens, 1, tokens.size(1) - 1);
}

Loader::Loader(std::shared_ptr<const ShardData> shard, std::vector<int64_t> order,
               LoaderOptions options)
    : shard_(std::move(shard)), order_(std::move(order)), options_(options) {
  LORY_CHECK(shard_ != nullptr, "Loader: the shard is null");
  const LoaderOptions& o = options_;
  LORY_CHECK(o.batch_size >= 1 && o.seq_len >= 1, "Loader: batch_size is ", o.batch_size,
             " and seq_len ", o.seq_len, "; expected both >= 1");
  LORY_CHECK(o.world >= 1 && o.rank >= 0 && o.rank < o.world, "Loader: rank ", o.rank, " of world ",
             o.world, "; expected 0 <= rank < world");
  LORY_CHECK(o.eot >= 0 && o.eot < shard_->vocab_size, "Loader: end-of-text token ", o.eot,
             " is outside the shard's vocabulary of ", shard_->vocab_size);
  std::vector<uint8_t> used(shard_->num_docs(), 0);
  doc_start_.assign(1, 0);
  for (size_t p = 0; p < order_.size(); ++p) {
    int64_t d = order_[p];
    LORY_CHECK(d >= 0 && d < shard_->num_docs(), "Loader: order entry ", p, " is document ", d,
               "; the shard has ", shard_->num_docs(), " documents");
    LORY_CHECK(!used[d], "Loader: document ", d, " appears twice in the order (again at ", p, ")");
    used[d] = 1;
    doc_start_.push_back(doc_start_.back() + shard_->docs[d].length + 1);
  }
  num_instances_ = stream_tokens() / (o.seq_len + 1);
  LORY_CHECK(num_instances_ >= 1, "Loader: the ordered documents give ", stream_tokens(),
             " tokens (with end-of-text tokens), fewer than one instance of seq_len + 1 = ",
             o.seq_len + 1);
  shuffle_epoch();
}

int64_t Loader::steps_per_epoch() const {
  int64_t rows = options_.batch_size * options_.world;
  return (num_instances_ + rows - 1) / rows;
}

// Fisher-Yates driven by counters e*n + i of the seed's stream: the permutation of epoch e is a
// pure function of (seed, e, n), which is what makes a restored loader replay it.
void Loader::shuffle_epoch() {
  const int64_t n = num_instances_;
  perm_.resize(n);
  for (int64_t i = 0; i < n; ++i) perm_[i] = i;
  if (!options_.shuffle) return;
  uint64_t base = static_cast<uint64_t>(epoch_) * static_cast<uint64_t>(n);
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(uniform_at(options_.seed, base + i) * static_cast<double>(i + 1));
    std::swap(perm_[i], perm_[std::min(j, i)]);
  }
}

void Loader::instance_tokens(int64_t instance, int32_t* out) const {
  LORY_CHECK(instance >= 0 && instance < num_instances_, "Loader: instance ", instance,
             " is out of range 0..", num_instances_ - 1);
  const int64_t width = options_.seq_len + 1;
  int64_t pos = instance * width, end = pos + width;
  // The ordered document holding stream position `pos`.
  auto p = static_cast<int64_t>(std::upper_bound(doc_start_.begin(), doc_start_.end(), pos) -
                                doc_start_.begin()) -
           1;
  for (; pos < end; ++p) {
    const ShardDoc& doc = shard_->docs[order_[p]];
    int64_t from = pos - doc_start_[p];  // offset inside this document (+ its end-of-text)
    int64_t take = std::min(end - pos, doc.length - from);
    if (take > 0) {
      std::copy_n(shard_->tokens.begin() + doc.offset + from, take, out);
      out += take;
      pos += take;
    }
    if (pos < end && pos == doc_start_[p + 1] - 1) *out++ = options_.eot, ++pos;
  }
}

Batch Loader::next() {
  const int64_t rows = options_.batch_size, width = options_.seq_len + 1;
  Batch b;
  b.tokens = Tensor::empty({rows, width}, DType::i32);
  b.step = step_++;
  // Skip the rows of lower ranks, take ours, then skip the rows of higher ranks.
  auto advance = [&](int64_t count, int32_t* out) {
    for (int64_t r = 0; r < count; ++r) {
      if (position_ == num_instances_) {
        ++epoch_;
        position_ = 0;
        shuffle_epoch();
      }
      int64_t instance = perm_[position_++];
      if (out) {
        if (b.instances.empty()) b.epoch = epoch_;
        b.instances.push_back(instance);
        instance_tokens(instance, out + r * width);
      }
    }
  };
  advance(options_.rank * rows, nullptr);
  advance(rows, b.tokens.data<int32_t>());
  advance((options_.world - options_.rank - 1) * rows, nullptr);
  return b;
}

nlohmann::json Loader::state() const {
  return {{"format", "lory-loader"},
          {"epoch", epoch_},
          {"position", position_},
          {"step", step_},
          {"seed", options_.seed},
          {"rng_offset", static_cast<uint64_t>(epoch_) * static_cast<uint64_t>(num_instances_)},
          {"shuffle", options_.shuffle},
          {"instances", num_instances_},
          {"seq_len", options_.seq_len},
          {"batch_size", options_.batch_size},
          {"world", options_.world}};
}

void Loader::load_state(const nlohmann::json& s) {
  try {
    LORY_CHECK(s.at("format").get<std::string>() == "lory-loader",
               "Loader::load_state: not a loader state (format '", s.at("format"), "')");
    // A resumed run must cut and batch the same stream: anything else would silently serve
    // different data, so a mismatch is an error naming both values.
    auto same = [&](const char* key, auto mine) {
      auto saved = s.at(key).get<decltype(mine)>();
      LORY_CHECK(saved == mine, "Loader::load_state: saved ", key, " is ", saved,
                 " but this loader has ", mine);
    };
    same("instances", num_instances_);
    same("seq_len", options_.seq_len);
    same("batch_size", options_.batch_size);
    same("world", options_.world);
    same("seed", options_.seed);
    same("shuffle", options_.shuffle);
    int64_t epoch = s.at("epoch").get<int64_t>(), position = s.at("position").get<int64_t>();
    LORY_CHECK(epoch >= 0 && position >= 0 && position <= num_instances_,
               "Loader::load_state: epoch ", epoch, " position ", position, " is out of range (",
               num_instances_, " instances per epoch)");
    LORY_CHECK(s.at("rng_offset").get<uint64_t>() ==
                   static_cast<uint64_t>(epoch) * static_cast<uint64_t>(num_instances_),
               "Loader::load_state: rng_offset ", s.at("rng_offset"), " does not match epoch ",
               epoch);
    epoch_ = epoch;
    position_ = position;
    step_ = s.at("step").get<int64_t>();
  } catch (const nlohmann::json::exception& ex) {
    LORY_FAIL("Loader::load_state: malformed state: ", ex.what());
  }
  shuffle_epoch();
}

}  // namespace lory

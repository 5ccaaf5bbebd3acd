// End to end on the committed sample corpus with a tiny model: the loss falls, two runs write
// identical metrics, a resumed run continues exactly, and damaged inputs are reported clearly.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "catch_compat.h"
#include "core/json_reader.h"
#include "data/corpus.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/step_bench.h"
#include "train/trainer.h"

using namespace lory;
namespace fs = std::filesystem;

namespace {

// Tokenizer and shards of the sample corpus, built once per test run.
const fs::path& data_dir() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("lory_trainer_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::vector<Document> docs = read_corpus_jsonl(std::string(LORY_TEST_DATA) + "/corpus/sample.jsonl");
    Tokenizer tok = Tokenizer::train(corpus_texts(docs, "train"), 384);
    std::map<std::string, int32_t> domain_ids;
    for (const auto& doc : docs) domain_ids.emplace(doc.domain, 0);
    std::vector<std::string> domains;
    for (auto& [name, id] : domain_ids) id = static_cast<int32_t>(domains.size()), domains.push_back(name);
    for (std::string split : {"train", "valid"}) {
      ShardData s;
      s.vocab_size = tok.vocab_size();
      s.domains = domains;
      for (const auto& doc : docs)
        if (doc.split == split) add_document(s, tok.encode(doc.text), domain_ids[doc.domain], doc.id);
      write_shard((d / (split + ".bin")).string(), s);
    }
    return d;
  }();
  return dir;
}

TrainConfig tiny_run(const std::string& name, int64_t steps) {
  nlohmann::json j = {
      {"model", {{"vocab", 384}, {"d_model", 32}, {"n_layers", 2}, {"n_heads", 2}, {"d_ff", 64},
                 {"max_seq", 32}, {"ffn", "lory"}, {"n_experts", 4}, {"segment_len", 8}}},
      {"data", {{"train", (data_dir() / "train.bin").string()}, {"valid", (data_dir() / "valid.bin").string()},
                {"seq_len", 32}, {"batch_size", 4}}},
      {"optimizer", {{"lr", 0.01}, {"warmup_frac", 0.1}}},
      {"steps", steps},
      {"dense_warmup_frac", 0.2},
      {"log_interval", 1},
      {"eval_interval", 10},
      {"eval_batches", 1},
      {"checkpoint_interval", 10},
      {"keep_checkpoints", 0},
      {"out_dir", (data_dir() / name).string()},
      {"threads", 1}};
  return TrainConfig::from_json(j);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("training a tiny Lory model lowers the loss and upcycles after the dense warm-up",
          "[train][slow]") {
  TrainResult r = train(tiny_run("fall", 30), false, true);
  CHECK(r.steps == 30);
  std::ifstream in(data_dir() / "fall" / "metrics.jsonl");
  std::string line;
  std::vector<double> losses;
  bool upcycled = false, evaluated = false, routed = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) losses.push_back(j["loss"]);
    if (j.value("event", "") == "upcycle") upcycled = j["step"] == 6;
    if (j.contains("eval")) evaluated = true;
    if (j.contains("routing")) routed = j["routing"].size() == 2;
  }
  REQUIRE(losses.size() == 30);
  CHECK(losses.back() < losses.front() - 1.0);
  CHECK(upcycled);
  CHECK(evaluated);
  CHECK(routed);
  auto model = load_model(r.checkpoint);
  CHECK(model->config().ffn == FfnKind::lory);
}

TEST_CASE("the same config gives the same metrics file, and resuming changes nothing",
          "[train][slow]") {
  train(tiny_run("a", 20), false, true);
  train(tiny_run("b", 20), false, true);
  const std::string a = slurp(data_dir() / "a" / "metrics.jsonl");
  CHECK(a == slurp(data_dir() / "b" / "metrics.jsonl"));
  // Lose everything after the checkpoint of step 10 (as a crash would), then resume.
  train(tiny_run("c", 20), false, true);
  fs::remove_all(data_dir() / "c" / "checkpoints" / "step_00000020");
  TrainResult resumed = train(tiny_run("c", 20), true, true);
  CHECK(resumed.steps == 20);
  CHECK(slurp(data_dir() / "c" / "metrics.jsonl") == a);
}

TEST_CASE("resuming with a different config is refused, naming the difference", "[train]") {
  train(tiny_run("d", 10), false, true);
  TrainConfig other = tiny_run("d", 10);
  other.batch_size = 2;
  CHECK_THROWS_WITH(train(other, true, true), HasSubstr("/data/batch_size"));
}

TEST_CASE("damaged checkpoints and shards are reported clearly", "[train]") {
  train(tiny_run("e", 10), false, true);
  const fs::path ckpt = data_dir() / "e" / "checkpoints" / "step_00000010";
  fs::resize_file(ckpt / "model.safetensors", 100);
  CHECK_THROWS_WITH(load_model(ckpt.string()), HasSubstr("model.safetensors"));
  fs::remove(ckpt / "trainer.json");
  CHECK_THROWS_WITH(load_checkpoint(ckpt.string()), HasSubstr("no trainer.json"));
  const fs::path bad = data_dir() / "truncated.bin";
  fs::copy_file(data_dir() / "valid.bin", bad, fs::copy_options::overwrite_existing);
  fs::resize_file(bad, fs::file_size(bad) / 2);
  TrainConfig c = tiny_run("f", 10);
  c.train_shard = bad.string();
  CHECK_THROWS_WITH(train(c, false, true), HasSubstr("truncated.bin"));
  // A held-out shard from a larger tokenizer is named before training starts.
  ShardData wide = read_shard((data_dir() / "valid.bin").string());
  wide.vocab_size = 1000;
  const fs::path wide_path = data_dir() / "wide_valid.bin";
  write_shard(wide_path.string(), wide);
  TrainConfig wide_valid = tiny_run("f", 10);
  wide_valid.valid_shard = wide_path.string();
  CHECK_THROWS_WITH(train(wide_valid, false, true),
                    HasSubstr("wide_valid.bin' has vocabulary 1000 but the model's vocab is 384"));
  TrainConfig file_out = tiny_run("f", 10);
  file_out.out_dir = bad.string();  // a file where the run's directory should go
  CHECK_THROWS_WITH(train(file_out, false, true), HasSubstr("exists and is not a directory"));
}

TEST_CASE("training configs name bad keys", "[train]") {
  nlohmann::json j = tiny_run("g", 5).to_json();
  j["optimizer"]["learning_rate"] = 0.1;
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("unknown key 'learning_rate'"));
  j = tiny_run("g", 5).to_json();
  j["data"]["seq_len"] = 30;
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("not a multiple"));
  j = tiny_run("g", 5).to_json();
  j.erase("steps");
  j["steps"] = 0;
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("neither 'steps' nor 'tokens'"));
  // Optimizer values outside their ranges (each was accepted before: clip -1 and beta1 1.5 trained
  // on, eps 0 diverged at step 2).
  const std::pair<const char*, double> bad[] = {{"clip", -1},           {"beta1", 1.5},
                                                {"beta2", 1},           {"eps", 0},
                                                {"weight_decay", -0.5}, {"min_lr_ratio", 2}};
  for (const auto& [key, value] : bad) {
    j = tiny_run("g", 5).to_json();
    j["optimizer"][key] = value;
    INFO(key);
    CHECK_THROWS_WITH(TrainConfig::from_json(j),
                      HasSubstr(std::string("optimizer.") + key + " is"));
  }
  j = tiny_run("g", 5).to_json();
  j["keep_checkpoints"] = -1;
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("'keep_checkpoints' is -1"));
}

TEST_CASE("a diverging run stops with the step and keeps its last checkpoint", "[train]") {
  TrainConfig c = tiny_run("h", 30);
  c.lr = 1e30;  // every AdamW update moves weights by ~lr: logits overflow within a few steps
  c.dense_warmup_frac = 0;
  c.checkpoint_interval = 1;
  CHECK_THROWS_WITH(train(c, false, true), HasSubstr("training diverged at step"));
  const std::string last = latest_checkpoint((data_dir() / "h" / "checkpoints").string());
  REQUIRE(!last.empty());
  CHECK_NOTHROW(load_checkpoint(last));
}

TEST_CASE("training configs check device and precision", "[train]") {
  nlohmann::json j = tiny_run("dev", 5).to_json();
  CHECK(j["device"] == "cpu");
  CHECK(j["precision"] == "fp32");
  j["device"] = "gpu";
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("'device' is 'gpu'; expected 'cpu' or 'cuda'"));
  j = tiny_run("dev", 5).to_json();
  j["precision"] = "fp16";
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("'precision' is 'fp16'"));
  j["precision"] = "bf16";
  CHECK_THROWS_WITH(TrainConfig::from_json(j), HasSubstr("needs 'device' 'cuda'"));
  j["device"] = "cuda";
  TrainConfig c = TrainConfig::from_json(j);
  CHECK(c.device == "cuda");
  CHECK(c.precision == "bf16");
  CHECK(c.identity() == tiny_run("dev", 5).identity());  // bookkeeping, not the run's identity
  if (!cuda::available())  // a CPU build or a machine without a GPU: one clear line
    CHECK_THROWS_WITH(train(c, false, true), HasSubstr("device 'cuda' requested but"));
}

TEST_CASE("load_model places a checkpoint on a device; wrong devices are named", "[train]") {
  train(tiny_run("place", 2), false, true);
  const std::string ckpt = latest_checkpoint((data_dir() / "place" / "checkpoints").string());
  auto model = load_model(ckpt, Device::cpu, Precision::fp32);
  CHECK(model->device() == Device::cpu);
  CHECK(model->precision() == Precision::fp32);
  CHECK(load_model(ckpt)->parameters()[0].second.to_vector<float>() ==
        model->parameters()[0].second.to_vector<float>());
  CHECK_THROWS_WITH(load_model(ckpt, Device::cpu, Precision::bf16),
                    HasSubstr("precision 'bf16' needs device 'cuda'"));
  CHECK(resolve_device("cpu") == Device::cpu);
  CHECK_THROWS_WITH(resolve_device("gpu"), HasSubstr("device is 'gpu'; expected 'cpu' or 'cuda'"));
  if (!cuda::available())
    CHECK_THROWS_WITH(resolve_device("cuda"), HasSubstr("device 'cuda' requested but"));
  else
    CHECK(resolve_device("cuda") == Device::cuda);
}

TEST_CASE("resuming from the checkpoint that ends the dense warm-up upcycles once", "[train]") {
  auto run = [](const std::string& name) {
    TrainConfig c = tiny_run(name, 10);
    c.dense_warmup_frac = 0.5;  // dense steps 1-5, upcycled before step 6
    c.checkpoint_interval = 5;  // the step-5 checkpoint is still dense
    return c;
  };
  train(run("up_a"), false, true);
  const std::string a = slurp(data_dir() / "up_a" / "metrics.jsonl");
  train(run("up_b"), false, true);
  fs::remove_all(data_dir() / "up_b" / "checkpoints" / "step_00000010");
  CHECK(train(run("up_b"), true, true).steps == 10);
  CHECK(slurp(data_dir() / "up_b" / "metrics.jsonl") == a);
}

TEST_CASE("the step benchmark refuses empty batches and zero steps", "[train]") {
  const ModelConfig c = tiny_run("bench", 1).model;
  CHECK_THROWS_WITH(bench_training_step(c, 0, 32, 1, 0, Device::cpu, Precision::fp32),
                    HasSubstr("batch is 0; expected at least 1"));
  // Zero timed steps had no median to report and crashed.
  CHECK_THROWS_WITH(bench_training_step(c, 2, 32, 0, 0, Device::cpu, Precision::fp32),
                    HasSubstr("expected at least 1 timed step"));
  const StepBenchResult r = bench_training_step(c, 2, 32, 1, 0, Device::cpu, Precision::fp32);
  CHECK(r.tokens_per_s > 0);
}

// Checkpoints move between devices: a tiny Lory run trained on the GPU resumes on the CPU and one
// trained on the CPU resumes on the GPU (the dense warm-up ends right at the switch, so upcycling
// happens on the new device), and a checkpoint evaluates, routes and generates alike on both
// (what `lory eval|routing|generate --device` run). Skipped without a GPU.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/precision.h"
#include "data/corpus.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "models/generate.h"
#include "parity.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/routing_analysis.h"
#include "train/trainer.h"

using namespace lory;
namespace fs = std::filesystem;

namespace {

// Tokenizer and shards of the sample corpus (as tests/train/test_trainer.cpp), built once.
const fs::path& data_dir() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("lory_device_switch_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::vector<Document> docs =
        read_corpus_jsonl(std::string(LORY_TEST_DATA) + "/corpus/sample.jsonl");
    Tokenizer tok = Tokenizer::train(corpus_texts(docs, "train"), 384);
    std::map<std::string, int32_t> domain_ids;
    for (const auto& doc : docs) domain_ids.emplace(doc.domain, 0);
    std::vector<std::string> domains;
    for (auto& [name, id] : domain_ids)
      id = static_cast<int32_t>(domains.size()), domains.push_back(name);
    for (std::string split : {"train", "valid"}) {
      ShardData s;
      s.vocab_size = tok.vocab_size();
      s.domains = domains;
      for (const auto& doc : docs)
        if (doc.split == split)
          add_document(s, tok.encode(doc.text), domain_ids[doc.domain], doc.id);
      write_shard((d / (split + ".bin")).string(), s);
    }
    return d;
  }();
  return dir;
}

// 6 steps: 3 dense, then upcycled to Lory; checkpoints after steps 3 and 6; fp32.
TrainConfig tiny_run(const std::string& name, const std::string& device) {
  nlohmann::json j = {{"model",
                       {{"vocab", 384},
                        {"d_model", 32},
                        {"n_layers", 2},
                        {"n_heads", 2},
                        {"d_ff", 64},
                        {"max_seq", 32},
                        {"ffn", "lory"},
                        {"n_experts", 4},
                        {"segment_len", 8}}},
                      {"data",
                       {{"train", (data_dir() / "train.bin").string()},
                        {"valid", (data_dir() / "valid.bin").string()},
                        {"seq_len", 32},
                        {"batch_size", 4}}},
                      {"optimizer", {{"lr", 0.01}, {"warmup_frac", 0.1}}},
                      {"steps", 6},
                      {"dense_warmup_frac", 0.5},
                      {"log_interval", 1},
                      {"eval_interval", 0},
                      {"eval_batches", 1},
                      {"checkpoint_interval", 3},
                      {"keep_checkpoints", 0},
                      {"out_dir", (data_dir() / name).string()},
                      {"threads", 1},
                      {"device", device},
                      {"precision", "fp32"}};
  return TrainConfig::from_json(j);
}

// step -> training loss, from a run's metrics.jsonl.
std::map<int64_t, double> losses(const std::string& run) {
  std::ifstream in(data_dir() / run / "metrics.jsonl");
  std::map<int64_t, double> out;
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json m = nlohmann::json::parse(line);
    if (m.contains("loss")) out[m.at("step").get<int64_t>()] = m.at("loss").get<double>();
  }
  return out;
}

// Trains all 6 steps on `first`, drops the last checkpoint (as a crash would) and resumes on
// `then`: steps 1-3 ran on one device, 4-6 on the other.
void train_then_switch(const std::string& run, const std::string& first, const std::string& then) {
  REQUIRE(train(tiny_run(run, first), false, true).steps == 6);
  fs::remove_all(data_dir() / run / "checkpoints" / "step_00000006");
  TrainResult r = train(tiny_run(run, then), true, true);
  CHECK(r.steps == 6);
  std::ifstream in(data_dir() / run / "metrics.jsonl");
  int upcycles = 0;
  for (std::string line; std::getline(in, line);)
    upcycles += line.find("upcycle") != std::string::npos;
  CHECK(upcycles == 1);  // the step-3 checkpoint is dense: the resumed run upcycles, once
}

std::string final_checkpoint(const std::string& run) {
  return latest_checkpoint((data_dir() / run / "checkpoints").string());
}

}  // namespace

TEST_CASE("a run resumes on the other device and continues as on one device", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  REQUIRE(train(tiny_run("cpu_only", "cpu"), false, true).steps == 6);
  train_then_switch("gpu_then_cpu", "cuda", "cpu");
  train_then_switch("cpu_then_gpu", "cpu", "cuda");
  const auto ref = losses("cpu_only");
  REQUIRE(ref.size() == 6);
  for (const std::string run : {"gpu_then_cpu", "cpu_then_gpu"}) {
    const auto got = losses(run);
    REQUIRE(got.size() == 6);  // the resume kept steps 1-3 and appended 4-6
    for (const auto& [step, loss] : ref) {
      INFO(run << " step " << step << ": loss " << got.at(step) << ", CPU-only run " << loss);
      // fp32 on both devices: the runs differ at the rounding level only (a resume that lost the
      // Adam moments or the loader position would differ by far more).
      CHECK(std::fabs(got.at(step) - loss) <= 1e-4 * std::fabs(loss));
    }
  }
}

TEST_CASE("a checkpoint evaluates, routes and generates alike on the CPU and the GPU", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  train(tiny_run("eval_src", "cpu"), false, true);
  const std::string ckpt = final_checkpoint("eval_src");
  REQUIRE(!ckpt.empty());
  auto cpu = load_model(ckpt, Device::cpu);
  auto gpu = load_model(ckpt, Device::cuda);
  REQUIRE(gpu->device() == Device::cuda);
  const ShardData valid = read_shard((data_dir() / "valid.bin").string());
  EvalOptions o{32, 4, 2, 8, end_of_text_id(valid)};

  const auto sc = evaluate(*cpu, valid, o), sg = evaluate(*gpu, valid, o);
  REQUIRE(!sc.empty());
  REQUIRE(sc.size() == sg.size());
  for (const auto& [domain, s] : sc) {
    const DomainScore& g = sg.at(domain);
    std::printf("%-12s loss cpu %.9f gpu %.9f  after T cpu %.9f gpu %.9f\n", domain.c_str(), s.loss,
                g.loss, s.loss_after_T, g.loss_after_T);
    CHECK(g.tokens == s.tokens);
    CHECK(std::fabs(g.loss - s.loss) <= 1e-5 * s.loss);
    CHECK(std::fabs(g.loss_after_T - s.loss_after_T) <= 1e-5 * s.loss_after_T);
  }

  // bf16 mixed precision: the same figures to bf16's resolution (8 mantissa bits in the logits).
  auto bf16 = load_model(ckpt, Device::cuda, Precision::bf16);
  for (const auto& [domain, s] : evaluate(*bf16, valid, o))
    CHECK(std::fabs(s.loss - sc.at(domain).loss) <= 2e-2 * sc.at(domain).loss);

  const RoutingAnalysis rc = analyse_routing(*cpu, valid, o), rg = analyse_routing(*gpu, valid, o);
  REQUIRE(rc.layers.size() == rg.layers.size());
  for (size_t l = 0; l < rc.layers.size(); ++l)
    for (const auto& [domain, w] : rc.layers[l].weights)
      for (size_t e = 0; e < w.size(); ++e)
        CHECK(std::fabs(rg.layers[l].weights.at(domain)[e] - w[e]) <= 1e-5);

  // Greedy decoding: the same tokens (logits agree to ~1e-6, far below the gaps argmax sees).
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 8;
  std::vector<int32_t> prompt(valid.tokens.begin(), valid.tokens.begin() + 5);
  const std::vector<int32_t> tc = generate(*cpu, prompt, greedy),
                             tg = generate(*gpu, prompt, greedy);
  CHECK(tc.size() == 8);
  CHECK(tg == tc);
  // Sampling draws on the host from the GPU's logits: the same seed, a full-length answer.
  SamplingOptions sampled;
  sampled.max_new_tokens = 8;
  sampled.top_k = 20;
  sampled.top_p = 0.9;
  CHECK(generate(*gpu, prompt, sampled).size() == 8);
}

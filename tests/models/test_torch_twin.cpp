// The whole model against an independent PyTorch implementation (tests/reference/lory_twin.py):
// the same weights and batch must give the same loss and the same gradient for every parameter.
// Skipped where python3 with torch is not installed (set LORY_PYTHON to choose the interpreter).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "catch_compat.h"
#include "core/json_reader.h"
#include "core/safetensors.h"
#include "models/transformer.h"

using namespace lory;
namespace fs = std::filesystem;

namespace {

std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LORY_PYTHON")) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& py : candidates)
    if (std::system((py + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

ModelConfig twin_config(FfnKind ffn, FirstSegment first) {
  ModelConfig c;
  c.vocab = 37;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.d_ff = 24;
  c.max_seq = 32;
  c.ffn = ffn;
  c.n_experts = 4;
  c.segment_len = 4;
  c.first_segment = first;
  c.init_std = 0.2;
  c.router_std = 0.3;
  return c;
}

void compare_with_twin(const std::string& python, const ModelConfig& c, DType dtype, double tol) {
  Transformer model(c, dtype);
  Generator gen(11);
  const int64_t B = 2, L = 12;
  std::vector<int32_t> ids(B * L), targets(B * L);
  for (auto& v : ids) v = static_cast<int32_t>(gen.below(c.vocab));
  for (auto& v : targets) v = static_cast<int32_t>(gen.below(c.vocab));
  Tensor ids_t = Tensor::from_vector(ids, {B, L}), targets_t = Tensor::from_vector(targets, {B, L});

  fs::path dir = fs::temp_directory_path() / ("lory_twin_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  NamedParams inputs = model.parameters();
  inputs.push_back({"ids", ids_t});
  inputs.push_back({"targets", targets_t});
  save_safetensors((dir / "in.safetensors").string(), inputs);
  write_json_file((dir / "model.json").string(), c.to_json());
  std::string cmd = python + " " + LORY_TEST_DATA + "/../reference/lory_twin.py --config " +
                    (dir / "model.json").string() + " --inputs " + (dir / "in.safetensors").string() +
                    " --out " + (dir / "out.safetensors").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  NamedTensors twin = load_safetensors((dir / "out.safetensors").string());

  LossParts ours = model.loss(ids_t, targets_t);
  ours.total.backward();
  INFO(ffn_kind_name(c.ffn) << " " << first_segment_name(c.first_segment) << " "
                            << dtype_name(dtype));
  CHECK(ours.total.item() == Approx(twin.find("loss")->item()).epsilon(tol));
  for (const auto& [name, p] : model.parameters()) {
    const Tensor* g = twin.find("grad." + name);
    REQUIRE(g != nullptr);
    auto a = p.grad().to_vector<double>(), b = g->to_vector<double>();
    double scale = 0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    INFO("gradient of " << name);
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(std::abs(a[i] - b[i]) <= tol * (scale + 1e-12));
  }
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("loss and every gradient equal the PyTorch twin's", "[models][reference]") {
  const std::string python = python_with_torch();
  if (python.empty()) LORY_SKIP_ALL("python3 with torch is not installed (Debian: python3-torch)");
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-10 : 2e-4;
    compare_with_twin(python, twin_config(FfnKind::dense, FirstSegment::self_stopgrad), dt, tol);
    compare_with_twin(python, twin_config(FfnKind::lory, FirstSegment::self_stopgrad), dt, tol);
    compare_with_twin(python, twin_config(FfnKind::lory, FirstSegment::uniform), dt, tol);
  }
}

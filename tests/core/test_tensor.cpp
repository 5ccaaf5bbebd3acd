// Tensor basics: factories, views share storage, copies do not, memory counters, RNG streams.
#include <algorithm>

#include "catch_compat.h"
#include "core/random.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "core/threads.h"

using namespace lory;

TEST_CASE("factories fill and report shape, dtype and device", "[core]") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == DType::f32);
  CHECK(z.device() == Device::cpu);
  for (float v : z.to_vector<float>()) CHECK(v == 0.0f);
  Tensor f = Tensor::full({4}, 2.5, DType::f64);
  for (double v : f.to_vector<double>()) CHECK(v == 2.5);
  Tensor a = Tensor::arange(5);
  CHECK(a.to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2, 3, 4});
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK(Tensor::scalar(3.0).rank() == 0);
}

TEST_CASE("view shares storage; clone and to(dtype) copy", "[core]") {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = x.view({3, 2});
  v.data<float>()[0] = 42;
  CHECK(x.at(0) == 42);
  Tensor c = x.clone();
  c.data<float>()[1] = -1;
  CHECK(x.at(1) == 2);
  Tensor d = x.to(DType::f64);
  CHECK(d.dtype() == DType::f64);
  CHECK(d.to_vector<double>() == std::vector<double>{42, 2, 3, 4, 5, 6});
  CHECK_THROWS_AS(x.view({4, 2}), Error);
}

TEST_CASE("bf16 conversion rounds to nearest even", "[core]") {
  CHECK(bf16_to_float(float_to_bf16(1.0f)) == 1.0f);
  CHECK(bf16_to_float(float_to_bf16(3.140625f)) == 3.140625f);
  float x = 1.0f + 1.0f / 256;  // exactly halfway between two bf16 values: rounds to even (1.0)
  CHECK(bf16_to_float(float_to_bf16(x)) == 1.0f);
}

TEST_CASE("memory counters track live and peak bytes", "[core]") {
  reset_peak_memory();
  int64_t before = memory_stats().live_bytes;
  {
    Tensor a = Tensor::empty({1000}, DType::f64);
    CHECK(memory_stats().live_bytes == before + 8000);
  }
  CHECK(memory_stats().live_bytes == before);
  CHECK(memory_stats().peak_bytes >= before + 8000);
  CHECK(memory_stats().allocations >= 1);
}

TEST_CASE("errors name the op, the argument and the expectation", "[core]") {
  Tensor x = Tensor::zeros({2, 3});
  try {
    x.data<double>();
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("f32") != std::string::npos);
    CHECK(msg.find("f64") != std::string::npos);
  }
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5, 6, 7}), Error);
  CHECK_THROWS_AS(x.shape()[2], Error);
  CHECK(x.shape()[-1] == 3);
  CHECK_THROWS_AS(Tensor::arange(3).set_requires_grad(), Error);
  if (cuda::available()) {  // with a GPU, a GPU tensor fills like a CPU one
    Tensor g = Tensor::zeros({2}, DType::f32, Device::cuda);
    g.fill_(1.5);
    CHECK(g.to_vector<float>() == std::vector<float>{1.5f, 1.5f});
  } else {  // without one, asking for GPU memory says so
    CHECK_THROWS_WITH(Tensor::zeros({2}, DType::f32, Device::cuda), HasSubstr("CUDA"));
  }
}

TEST_CASE("Philox stream matches the published known-answer vector", "[core][random]") {
  // Random123 kat_vectors: philox4x32-10 with counter {0,0,0,0} and key {0,0}.
  Philox4x32 r = philox4x32(0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
}

TEST_CASE("random tensors do not depend on the thread count", "[core][random]") {
  int saved = num_threads();
  set_num_threads(1);
  Generator g1(7);
  Tensor a = Tensor::randn({100003}, g1);
  set_num_threads(2);
  Generator g2(7);
  Tensor b = Tensor::randn({100003}, g2);
  set_num_threads(saved);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(g1.offset() == 100003);
  // The values look like a standard normal.
  double sum = 0, sq = 0;
  for (float v : a.to_vector<float>()) sum += v, sq += double(v) * v;
  CHECK(std::abs(sum / a.numel()) < 0.02);
  CHECK(std::abs(sq / a.numel() - 1.0) < 0.02);
  // Consecutive requests continue the stream rather than repeating it.
  Generator g3(7);
  Tensor c1 = Tensor::randn({10}, g3), c2 = Tensor::randn({10}, g3);
  CHECK(c1.to_vector<float>() != c2.to_vector<float>());
  Tensor u = Tensor::uniform({1000}, g3, -2, 3);
  for (float v : u.to_vector<float>()) CHECK((v >= -2 && v < 3));
}

TEST_CASE("large copies, zero fills and sum_of are exact and thread-independent", "[core]") {
  // Sizes around the 256 KiB pieces the host copies are split into, and an odd tail.
  const int saved = num_threads();
  Generator gen(11);
  for (int64_t n : {int64_t{1}, int64_t{65536}, int64_t{65537}, int64_t{3 * 65536 + 5}}) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor a = Tensor::randn({n}, gen, 1.0, dt), b = Tensor::randn({n}, gen, 1.0, dt);
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        Tensor c = a.clone();
        CHECK(c.to_vector<double>() == a.to_vector<double>());
        Tensor s = sum_of(a, b), ref = a.clone();
        accumulate_(ref, b);
        CHECK(s.to_vector<double>() == ref.to_vector<double>());
        if (dt == DType::f32) {  // the sum is rounded to float once, as a float add does
          auto av = a.to_vector<float>(), bv = b.to_vector<float>(), sv = s.to_vector<float>();
          for (int64_t i = 0; i < n; i += 997) CHECK(sv[i] == av[i] + bv[i]);
        }
        c.fill_(0.0);
        auto z = c.to_vector<double>();
        CHECK(std::all_of(z.begin(), z.end(), [](double v) { return v == 0.0; }));
      }
    }
  }
  set_num_threads(saved);
}

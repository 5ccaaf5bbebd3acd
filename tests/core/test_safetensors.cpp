// safetensors: round trips, the exact bytes of the Python package's format (against a file
// written by an independent stdlib script), and a clear error for every kind of corrupt file.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "catch_compat.h"
#include "core/random.h"
#include "core/safetensors.h"

using namespace lory;
namespace fs = std::filesystem;

namespace {

// A fresh directory for one test case, removed with everything in it afterwards.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / ("lory_safetensors_" + tag + "_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int b = 0; b < 8; ++b) s[b] = static_cast<char>((n >> (8 * b)) & 0xff);
  return s;
}

// A file with this header text (unpadded) followed by `data_bytes` zero bytes.
std::string st_file(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\0');
}

std::string raw(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.nbytes());
}

// The tensors of tests/data/safetensors/make_sample.py, built here independently.
std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  return {
      {"weight", Tensor::from_vector<float>({0.5f, -1.25f, 2, 3.75f, -0.0625f, 100}, {2, 3})},
      {"bias", Tensor::from_vector<float>({1, -2, 0.25f}, {3})},
      {"scale", Tensor::scalar(6.5)},
      {"empty", Tensor::zeros({0, 3})},
      {"ids", Tensor::from_vector<int32_t>({0, -1, 7, 2147483647}, {4})},
      {"pi", Tensor::from_vector<double>({3.141592653589793, -2.5e-300}, {2})},
      {"half", Tensor::from_vector<float>({1.0f, -3.5f}, {2}).to(DType::bf16)},
  };
}
const std::map<std::string, std::string> kSampleMetadata = {
    {"producer", "tests/data/safetensors/make_sample.py"}};
const std::string kSample = std::string(LORY_TEST_DATA) + "/safetensors/sample.safetensors";

}  // namespace

TEST_CASE("round trip keeps names, dtypes, shapes, values and metadata", "[core]") {
  TempDir tmp("roundtrip");
  Generator gen(7);
  std::vector<std::pair<std::string, Tensor>> in = {
      {"w", Tensor::randn({3, 5}, gen)},
      {"w64", Tensor::randn({7}, gen, 1.0, DType::f64)},
      {"tokens", Tensor::arange(9)},
      {"loss", Tensor::scalar(2.25, DType::f64)},  // rank 0
      {"none", Tensor::zeros({0})},                // empty
      {"none2", Tensor::zeros({2, 0, 3}, DType::i32)},
      {"b16", Tensor::randn({5}, gen).to(DType::bf16)},
      {"layers.0.ffn.W1", Tensor::randn({2, 1, 3}, gen)},
  };
  std::map<std::string, std::string> meta = {
      {"step", "100"}, {"config", "{\"D\": 64}"}, {"note", "é ü \n\t"}, {"", "empty key"}};
  std::string path = tmp.file("model.safetensors");
  save_safetensors(path, in, meta);
  CHECK(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));

  NamedTensors out = load_safetensors(path);
  CHECK(out.metadata == meta);
  REQUIRE(out.tensors.size() == in.size());
  for (const auto& [name, t] : in) {
    const Tensor* u = out.find(name);
    REQUIRE(u != nullptr);
    CHECK(u->name() == name);
    CHECK(u->dtype() == t.dtype());
    CHECK(u->shape() == t.shape());
    CHECK(u->device() == Device::cpu);
    CHECK(raw(*u) == raw(t));  // bit for bit
  }
  CHECK(out.find("missing") == nullptr);
  CHECK(out.find("loss")->rank() == 0);
  CHECK(out.find("loss")->item() == 2.25);
  // File order: F64 first, then F32, I32, BF16; names sorted within a dtype.
  std::vector<std::string> order;
  for (const auto& [name, t] : out.tensors) order.push_back(name);
  CHECK(order == std::vector<std::string>{"loss", "w64", "layers.0.ffn.W1", "none", "w", "none2",
                                          "tokens", "b16"});

  // Saving over an existing file replaces it; no tensors and no metadata is a valid file.
  save_safetensors(path, {});
  NamedTensors nothing = load_safetensors(path);
  CHECK(nothing.tensors.empty());
  CHECK(nothing.metadata.empty());
}

TEST_CASE("writer lays out the header and data as the Python package does", "[core]") {
  TempDir tmp("layout");
  // The serialization examples from the Python package's own (Rust) test suite.
  std::string path = tmp.file("attn.safetensors");
  Tensor attn = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {1, 2, 3});
  save_safetensors(path, {{"attn.0", attn}});
  std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  REQUIRE(header.size() == 64);  // already a multiple of 8: no padding
  CHECK(read_bytes(path) == u64_le(64) + header + raw(attn));

  save_safetensors(path, {{"attn0", attn.view({1, 1, 2, 3})}});
  header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  CHECK(read_bytes(path) == u64_le(72) + header + std::string(7, ' ') + raw(attn));

  save_safetensors(path, {});
  CHECK(read_bytes(path) == u64_le(8) + "{}" + std::string(6, ' '));
  save_safetensors(path, {}, {{"framework", "pt"}});
  CHECK(read_bytes(path) == u64_le(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST_CASE("reads a file written by an independent Python script", "[core]") {
  NamedTensors s = load_safetensors(kSample);
  CHECK(s.metadata == kSampleMetadata);
  REQUIRE(s.tensors.size() == 7);
  for (const auto& [name, t] : sample_tensors()) {
    const Tensor* u = s.find(name);
    REQUIRE(u != nullptr);
    CHECK(u->dtype() == t.dtype());
    CHECK(u->shape() == t.shape());
    CHECK(u->to_vector<double>() == t.to_vector<double>());
  }
  CHECK(s.find("weight")->to_vector<float>() ==
        std::vector<float>{0.5f, -1.25f, 2, 3.75f, -0.0625f, 100});
  CHECK(s.find("ids")->to_vector<int32_t>() == std::vector<int32_t>{0, -1, 7, 2147483647});
  CHECK(s.find("pi")->to_vector<double>() == std::vector<double>{3.141592653589793, -2.5e-300});
  CHECK(s.find("half")->to_vector<float>() == std::vector<float>{1.0f, -3.5f});
  CHECK(s.find("scale")->rank() == 0);
  CHECK(s.find("scale")->item() == 6.5);
  CHECK(s.find("empty")->numel() == 0);
}

TEST_CASE("writer output equals the Python script's file byte for byte", "[core]") {
  TempDir tmp("sample");
  std::string path = tmp.file("sample.safetensors");
  save_safetensors(path, sample_tensors(), kSampleMetadata);
  CHECK(read_bytes(path) == read_bytes(kSample));
}

TEST_CASE("reader accepts header entries in any order", "[core]") {
  // The Python package sorts entries by offset when reading; so do we.
  TempDir tmp("order");
  std::string path = tmp.file("reordered.safetensors");
  std::string header = R"({"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},)"
                       R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  write_bytes(path, st_file(header, 8));
  NamedTensors s = load_safetensors(path);
  REQUIRE(s.tensors.size() == 2);
  CHECK(s.tensors[0].first == "a");
  CHECK(s.tensors[1].first == "b");
  CHECK(s.metadata.empty());
}

TEST_CASE("every kind of corrupt file gives an error naming the file and the problem", "[core]") {
  TempDir tmp("corrupt");
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}";
  };
  std::string ok_a = entry("a", "F32", "[2]", "[0,8]");
  struct Case {
    const char* file;
    std::string bytes;
    const char* problem;
  };
  std::vector<Case> cases = {
      {"short", std::string("\x08\0\0", 3), "shorter than the 8-byte header length"},
      {"huge_header", u64_le(200'000'000) + std::string(16, ' '), "over the 100 MB limit"},
      {"long_header", u64_le(64) + "{}      ", "beyond the end of the file"},
      {"not_json", st_file("{\"a\":", 0), "header is not valid JSON"},
      {"bad_utf8", st_file("{\"\xff\":{}}", 0), "header is not valid JSON"},
      {"not_object", st_file("[1,2]", 0), "header is not a JSON object"},
      {"entry_not_object", st_file("{\"a\":3}", 0), "tensor 'a': expected an object"},
      {"unknown_dtype", st_file("{" + entry("a", "F16", "[2]", "[0,4]") + "}", 4),
       "tensor 'a': unknown dtype \"F16\""},
      {"negative_dim", st_file("{" + entry("a", "F32", "[2,-1]", "[0,8]") + "}", 8),
       "tensor 'a': shape [2,-1] is not a list of"},
      {"float_dim", st_file("{" + entry("a", "F32", "[1.5]", "[0,8]") + "}", 8),
       "non-negative integers"},
      {"shape_string", st_file("{" + entry("a", "F32", "\"2x3\"", "[0,8]") + "}", 8),
       "tensor 'a': shape \"2x3\" is not a list"},
      {"one_offset", st_file("{" + entry("a", "F32", "[2]", "[8]") + "}", 8),
       "tensor 'a': data_offsets [8] is not [begin, end]"},
      {"reversed_offsets", st_file("{" + entry("a", "F32", "[2]", "[8,0]") + "}", 8),
       "0 <= begin <= end"},
      {"past_end", st_file("{" + entry("a", "F32", "[2]", "[0,8]") + "}", 4),
       "tensor 'a': data_offsets [0,8] end beyond the data section, which has 4 bytes"},
      {"wrong_count", st_file("{" + entry("a", "F32", "[3]", "[0,8]") + "}", 8),
       "span 8 bytes, but dtype F32 and shape [3] need 12"},
      {"overflow", st_file("{" + entry("a", "F64", "[4294967296,4294967296]", "[0,8]") + "}", 8),
       "need more than 2^64"},
      {"overlap", st_file("{" + ok_a + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12),
       "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
      {"gap", st_file("{" + entry("a", "F32", "[1]", "[4,8]") + "}", 8),
       "bytes [0, 4) of the data section belong to no tensor"},
      {"trailing", st_file("{" + ok_a + "}", 12),
       "the data section has 12 bytes but the tensors cover 8"},
      {"duplicate", st_file("{" + ok_a + "," + ok_a + "}", 8), "duplicate tensor name \"a\""},
      {"duplicate_key", st_file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0),
       "duplicate key \"dtype\""},
      {"missing_key", st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", 0),
       "tensor 'a': missing 'data_offsets'"},
      {"extra_key", st_file("{\"a\":{\"dtype\":\"F32\",\"offsets\":[0,0]}}", 0),
       "tensor 'a': unknown key 'offsets'"},
      {"bad_metadata", st_file("{\"__metadata__\":{\"step\":7}}", 0),
       "'__metadata__' must map strings to strings; 'step' holds 7"},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    std::string path = tmp.file(std::string(c.file) + ".safetensors");
    write_bytes(path, c.bytes);
    CHECK_THROWS_WITH(load_safetensors(path),
                      HasSubstr("load_safetensors: '" + path + "'") && HasSubstr(c.problem));
  }
  CHECK_THROWS_WITH(load_safetensors(tmp.file("absent.safetensors")),
                    HasSubstr("absent.safetensors") && HasSubstr("cannot open"));
  CHECK_THROWS_WITH(load_safetensors(tmp.dir.string()),
                    HasSubstr(tmp.dir.string()) && HasSubstr("not a regular file"));
}

TEST_CASE("writer rejects bad arguments and never leaves a file behind", "[core]") {
  TempDir tmp("badwrite");
  std::string path = tmp.file("out.safetensors");
  Tensor t = Tensor::zeros({2});
  auto refuses = [&](const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const std::string& problem,
                     const std::map<std::string, std::string>& meta = {}) {
    CHECK_THROWS_WITH(save_safetensors(path, tensors, meta),
                      HasSubstr("save_safetensors: '" + path + "'") && HasSubstr(problem));
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".tmp"));
  };
  refuses({{"a", t}, {"a", t}}, "the name 'a' is used twice");
  refuses({{"", t}}, "empty name");
  refuses({{"__metadata__", t}}, "'__metadata__' is reserved");
  refuses({{"a", Tensor()}}, "tensor 'a' is undefined");
  refuses({{"bad\xff", t}}, "not valid UTF-8");
  refuses({{"a", t}}, "not valid UTF-8", {{"k", "\xc3"}});
  std::string nowhere = tmp.file("no_such_dir/out.safetensors");
  CHECK_THROWS_WITH(save_safetensors(nowhere, {{"a", t}}),
                    HasSubstr(nowhere) && HasSubstr("cannot write"));
  CHECK_FALSE(fs::exists(nowhere));
}

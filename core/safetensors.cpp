// safetensors: writer (temporary file + rename) and a reader that validates everything before it
// trusts an offset.
#include "core/safetensors.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace lory {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this host is not");

namespace {

using Json = nlohmann::ordered_json;               // keeps header order, as the writer must
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the Python package's own limit

// Our dtypes by their names in the header, in the order the Python package writes them:
// descending dtype (its enum order ... BF16 < I32 < F32 < F64, i.e. by alignment), then by name.
struct StDtype {
  DType dtype;
  const char* name;
};
constexpr StDtype kDtypes[] = {
    {DType::f64, "F64"}, {DType::f32, "F32"}, {DType::i32, "I32"}, {DType::bf16, "BF16"}};

int write_rank(DType t) {
  int rank = 0;
  while (kDtypes[rank].dtype != t) ++rank;
  return rank;
}

const char* st_name(DType t) {
  return kDtypes[write_rank(t)].name;
}

bool st_dtype(const std::string& s, DType* t) {
  for (const StDtype& d : kDtypes) {
    if (s == d.name) {
      *t = d.dtype;
      return true;
    }
  }
  return false;
}

// Owns a FILE*; closes it on every path out.
struct File {
  FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

template <typename... Args>
[[noreturn]] void fail(const char* fn, const std::string& path, const Args&... args) {
  LORY_FAIL(fn, ": '", path, "': ", args...);
}

}  // namespace

const Tensor* NamedTensors::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

// ---- writer ----------------------------------------------------------------------------------
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const char* fn = "save_safetensors";
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail(fn, path, "a tensor has an empty name");
    if (name == "__metadata__") fail(fn, path, "'__metadata__' is reserved; rename that tensor");
    if (!names.insert(name).second) fail(fn, path, "the name '", name, "' is used twice");
    if (!t.defined()) fail(fn, path, "tensor '", name, "' is undefined");
  }

  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int ra = write_rank(tensors[a].second.dtype()), rb = write_rank(tensors[b].second.dtype());
    return ra != rb ? ra < rb : tensors[a].first < tensors[b].first;  // std::string: bytewise
  });

  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const Tensor& t = tensors[i].second;
    Json entry = Json::object();  // key order as the Python package: dtype, shape, data_offsets
    entry["dtype"] = st_name(t.dtype());
    entry["shape"] = t.shape().to_vector();
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    offset += t.nbytes();
    header[tensors[i].first] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();  // compact, UTF-8 unescaped: as serde_json::to_string
  } catch (const nlohmann::json::exception&) {
    fail(fn, path, "a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  // Returns 0 or the errno of the first failure.
  auto write_all = [&]() -> int {
    auto error = [] { return errno != 0 ? errno : EIO; };
    File file;
    file.f = std::fopen(tmp.c_str(), "wb");
    if (!file.f) return error();
    unsigned char len[8];
    for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(text.size() >> (8 * b));
    if (std::fwrite(len, 1, 8, file.f) != 8) return error();
    if (std::fwrite(text.data(), 1, text.size(), file.f) != text.size()) return error();
    for (size_t i : order) {
      const Tensor& t = tensors[i].second;
      if (t.nbytes() == 0) continue;
      Tensor host = t.device() == Device::cpu ? t : t.to(Device::cpu);
      if (std::fwrite(host.raw_data(), 1, host.nbytes(), file.f) != host.nbytes()) return error();
    }
    // The bytes must be on disk before the rename makes them the file's content.
    if (std::fflush(file.f) != 0 || fsync(fileno(file.f)) != 0) return error();
    FILE* f = file.f;
    file.f = nullptr;
    return std::fclose(f) == 0 ? 0 : error();
  };
  errno = 0;
  int err = 0;
  try {
    err = write_all();
  } catch (...) {  // e.g. a failed copy from the GPU
    std::remove(tmp.c_str());
    throw;
  }
  if (err != 0) {
    std::remove(tmp.c_str());
    fail(fn, path, "cannot write '", tmp, "': ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    fail(fn, path, "cannot rename '", tmp, "' to it: ", std::strerror(err));
  }
}

// ---- reader ----------------------------------------------------------------------------------
namespace {

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// A non-negative integer that fits int64 (nlohmann parses non-negative integers as unsigned).
bool is_count(const Json& v) {
  return v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
}

Entry parse_entry(const std::string& path, const std::string& name, const Json& v,
                  uint64_t data_bytes) {
  const char* fn = "load_safetensors";
  if (!v.is_object())
    fail(fn, path, "tensor '", name, "': expected an object {dtype, shape, data_offsets}, got ",
         v.dump());
  for (const auto& item : v.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(fn, path, "tensor '", name, "': unknown key '", item.key(),
           "'; expected only dtype, shape and data_offsets");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) fail(fn, path, "tensor '", name, "': missing '", key, "'");

  Entry e;
  e.name = name;
  const Json& dtype = v["dtype"];
  if (!dtype.is_string() || !st_dtype(dtype.get<std::string>(), &e.dtype))
    fail(fn, path, "tensor '", name, "': unknown dtype ", dtype.dump(),
         "; expected one of \"F32\", \"F64\", \"I32\", \"BF16\"");

  const Json& shape = v["shape"];
  bool shape_ok = shape.is_array() && shape.size() <= static_cast<size_t>(Shape::kMaxRank);
  for (size_t i = 0; shape_ok && i < shape.size(); ++i) shape_ok = is_count(shape[i]);
  if (!shape_ok)
    fail(fn, path, "tensor '", name, "': shape ", shape.dump(), " is not a list of at most ",
         Shape::kMaxRank, " non-negative integers");
  // numel * dtype size, watching for overflow (bytes > max / n  <=>  bytes * n > max), unless a
  // zero extent makes the tensor empty.
  uint64_t bytes = dtype_size(e.dtype);
  bool too_big = false, empty = false;
  for (const Json& d : shape) {
    uint64_t n = d.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(n));
    if (n == 0)
      empty = true;
    else if (!too_big && bytes > UINT64_MAX / n)
      too_big = true;
    else if (!too_big)
      bytes *= n;
  }
  if (empty) {
    bytes = 0;
    too_big = false;
  }

  const Json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !is_count(off[0]) || !is_count(off[1]) ||
      off[0].get<uint64_t>() > off[1].get<uint64_t>())
    fail(fn, path, "tensor '", name, "': data_offsets ", off.dump(),
         " is not [begin, end] with integers 0 <= begin <= end");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end > data_bytes)
    fail(fn, path, "tensor '", name, "': data_offsets ", off.dump(),
         " end beyond the data section, which has ", data_bytes, " bytes");
  if (too_big || bytes != e.end - e.begin)
    fail(fn, path, "tensor '", name, "': data_offsets ", off.dump(), " span ", e.end - e.begin,
         " bytes, but dtype ", st_name(e.dtype), " and shape ", shape.dump(), " need ",
         too_big ? std::string("more than 2^64") : std::to_string(bytes));
  return e;
}

}  // namespace

NamedTensors load_safetensors(const std::string& path) {
  const char* fn = "load_safetensors";
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (!file.f) fail(fn, path, "cannot open: ", std::strerror(errno));
  struct stat info;
  if (fstat(fileno(file.f), &info) != 0) fail(fn, path, "cannot stat: ", std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail(fn, path, "not a regular file");
  const uint64_t file_bytes = static_cast<uint64_t>(info.st_size);

  unsigned char len[8];
  if (file_bytes < 8 || std::fread(len, 1, 8, file.f) != 8)
    fail(fn, path, "file is ", file_bytes,
         " bytes long, shorter than the 8-byte header length that starts a safetensors file");
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = (n << 8) | len[b];
  if (n > kMaxHeaderBytes) fail(fn, path, "header length ", n, " is absurd: over the 100 MB limit");
  if (n > file_bytes - 8)
    fail(fn, path, "header length ", n, " is absurd: beyond the end of the file (", file_bytes,
         " bytes)");
  std::string text(n, '\0');
  if (std::fread(text.data(), 1, n, file.f) != n)
    fail(fn, path, "unexpected end of file in the header");
  const uint64_t data_bytes = file_bytes - 8 - n;

  // Parse, rejecting duplicate keys in any object (nlohmann would keep the last silently).
  std::vector<std::set<std::string>> open_objects;
  auto check_keys = [&](int, Json::parse_event_t event, Json& value) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end) open_objects.pop_back();
    if (event == Json::parse_event_t::key &&
        !open_objects.back().insert(value.get<std::string>()).second)
      fail(fn, path, open_objects.size() == 1 ? "duplicate tensor name " : "duplicate key ",
           value.dump(), " in the header");
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, check_keys);
  } catch (const nlohmann::json::parse_error& e) {
    fail(fn, path, "header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object())
    fail(fn, path, "header is not a JSON object (got: ", header.type_name(), ")");

  NamedTensors out;
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) fail(fn, path, "'__metadata__' is not an object");
      for (const auto& m : item.value().items()) {
        if (!m.value().is_string())
          fail(fn, path, "'__metadata__' must map strings to strings; '", m.key(), "' holds ",
               m.value().dump());
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, item.key(), item.value(), data_bytes));
  }

  // The regions must tile the data section: sorted by offset, each starts where the last ended.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin < covered)
      fail(fn, path, "tensors '", entries[i - 1].name, "' [", entries[i - 1].begin, ", ",
           entries[i - 1].end, ") and '", e.name, "' [", e.begin, ", ", e.end,
           ") overlap in the data section");
    if (e.begin > covered)
      fail(fn, path, "bytes [", covered, ", ", e.begin, ") of the data section belong to no ",
           "tensor (before '", e.name, "'); expected tensors packed without gaps");
    covered = e.end;
  }
  if (covered != data_bytes)
    fail(fn, path, "the data section has ", data_bytes, " bytes but the tensors cover ", covered,
         "; expected them to fill it exactly");

  // Valid: read the data in file order, straight into the tensors.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(Shape(e.shape), e.dtype, Device::cpu);
    t.set_name(e.name);
    if (t.nbytes() > 0 && std::fread(t.raw_data(), 1, t.nbytes(), file.f) != t.nbytes())
      fail(fn, path, "unexpected end of file in the data of tensor '", e.name, "'");
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace lory

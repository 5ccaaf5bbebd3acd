// permute / transpose: a copy with reordered dims. Backward: the inverse permutation of the
// gradient (out[..., i_P[k], ...] = x[..., i_k, ...], so dx = permute(dy, P⁻¹)).
//
// The kernel first simplifies the problem: size-1 dims are dropped and input dims that stay
// adjacent and in order in the output are merged, so (B, L, H, Dh) -> (B, H, L, Dh) becomes a
// copy of contiguous runs of Dh elements. When the innermost dim itself moves, the copy is a
// batch of 2-D transposes done in 32×32 tiles so that both reads and writes stay in cache.
#include "ops/transpose.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/transpose.h"

namespace lory::ops {
namespace {

constexpr int64_t kTile = 32;

// A permuted copy after simplification: input sizes (row-major) and the output order of them.
struct Reduced {
  std::vector<int64_t> size;
  std::vector<int> perm;  // output dim i is input dim perm[i]
};

Reduced simplify(const Shape& shape, const std::vector<int>& perm) {
  int r = shape.rank();
  std::vector<int> kept_index(r, -1), kept_perm;
  std::vector<int64_t> kept_size;
  for (int d = 0; d < r; ++d)
    if (shape[d] != 1) {
      kept_index[d] = static_cast<int>(kept_size.size());
      kept_size.push_back(shape[d]);
    }
  for (int i = 0; i < r; ++i)
    if (kept_index[perm[i]] >= 0) kept_perm.push_back(kept_index[perm[i]]);
  // Runs of consecutive input dims in output order become one dim each.
  std::vector<std::pair<int, int>> runs;  // [first, last] input dims, in output order
  for (int d : kept_perm) {
    if (!runs.empty() && runs.back().second + 1 == d)
      runs.back().second = d;
    else
      runs.push_back({d, d});
  }
  std::vector<int> order(runs.size());  // runs sorted by input position
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(),
            [&](int x, int y) { return runs[x].first < runs[y].first; });
  Reduced red;
  red.size.resize(runs.size());
  red.perm.resize(runs.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& run = runs[order[k]];
    int64_t n = 1;
    for (int d = run.first; d <= run.second; ++d) n *= kept_size[d];
    red.size[k] = n;
    red.perm[order[k]] = static_cast<int>(k);
  }
  return red;
}

// Copies elements of type E (only their size matters) from x into y as `red` describes.
template <typename E>
void permute_kernel(const E* x, E* y, const Reduced& red) {
  int r = static_cast<int>(red.size.size());
  int64_t numel = 1;
  for (int64_t n : red.size) numel *= n;
  if (r <= 1) {
    std::memcpy(y, x, static_cast<size_t>(numel) * sizeof(E));
    return;
  }
  std::vector<int64_t> in_stride(r), out_stride(r), out_size(r);
  std::vector<int> pos(r);  // output position of each input dim
  int64_t s_in = 1, s_out = 1;
  for (int d = r - 1; d >= 0; --d) in_stride[d] = s_in, s_in *= red.size[d];
  for (int i = r - 1; i >= 0; --i) {
    out_size[i] = red.size[red.perm[i]];
    out_stride[i] = s_out, s_out *= out_size[i];
    pos[red.perm[i]] = i;
  }
  const int q = r - 1, p = red.perm[r - 1];  // innermost input dim; innermost output dim
  const int64_t nq = red.size[q], np = red.size[p];
  // The "outer" output dims each item iterates: all but the innermost run(s).
  std::vector<int> outer;
  for (int i = 0; i < r - 1; ++i)
    if (red.perm[i] != q) outer.push_back(i);
  int64_t items = 1;
  for (int i : outer) items *= out_size[i];
  auto offsets = [&](int64_t item, int64_t& in_off, int64_t& out_off) {
    in_off = out_off = 0;
    for (int k = static_cast<int>(outer.size()) - 1; k >= 0; --k) {
      int i = outer[k];
      int64_t idx = item % out_size[i];
      item /= out_size[i];
      in_off += idx * in_stride[red.perm[i]];
      out_off += idx * out_stride[i];
    }
  };
  if (p == q) {  // the innermost dim stays innermost: contiguous runs of nq elements
    parallel_for(items, std::max<int64_t>(1, (1 << 15) / nq), [&](int64_t begin, int64_t end) {
      for (int64_t it = begin; it < end; ++it) {
        int64_t in_off, out_off;
        offsets(it, in_off, out_off);
        std::memcpy(y + out_off, x + in_off, static_cast<size_t>(nq) * sizeof(E));
      }
    });
    return;
  }
  // A batch of 2-D transposes: y[ip + iq·os_q] = x[ip·is_p + iq] over the (np, nq) plane.
  const int64_t is_p = in_stride[p], os_q = out_stride[pos[q]];
  const int64_t p_tiles = (np + kTile - 1) / kTile;
  parallel_for(items * p_tiles, std::max<int64_t>(1, (1 << 15) / (kTile * nq)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t task = begin; task < end; ++task) {
                   int64_t in_off, out_off;
                   offsets(task / p_tiles, in_off, out_off);
                   int64_t p0 = task % p_tiles * kTile, p1 = std::min(np, p0 + kTile);
                   for (int64_t q0 = 0; q0 < nq; q0 += kTile) {
                     int64_t q1 = std::min(nq, q0 + kTile);
                     for (int64_t iq = q0; iq < q1; ++iq)
                       for (int64_t ip = p0; ip < p1; ++ip)
                         y[out_off + ip + iq * os_q] = x[in_off + ip * is_p + iq];
                   }
                 }
               });
}

Tensor permute_forward(const Tensor& x, const std::vector<int>& perm) {
  std::vector<int64_t> out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = x.size(perm[i]);
  Tensor y = Tensor::empty(Shape(out), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  Reduced red = simplify(x.shape(), perm);
  if (x.device() == Device::cuda) {
    cuda::permute_copy(dtype_size(x.dtype()), x.raw_data(), y.raw_data(),
                       static_cast<int>(red.size.size()), red.size.data(), red.perm.data());
    return y;
  }
  switch (dtype_size(x.dtype())) {
    case 2:
      permute_kernel(static_cast<const uint16_t*>(x.raw_data()),
                     static_cast<uint16_t*>(y.raw_data()), red);
      break;
    case 4:
      permute_kernel(static_cast<const uint32_t*>(x.raw_data()),
                     static_cast<uint32_t*>(y.raw_data()), red);
      break;
    case 8:
      permute_kernel(static_cast<const uint64_t*>(x.raw_data()),
                     static_cast<uint64_t*>(y.raw_data()), red);
      break;
    default:
      LORY_ASSERT(false, "unexpected element size");
  }
  return y;
}

std::string dims_str(const std::vector<int>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  check_defined(x, "permute", "x");
  int r = x.rank();
  LORY_CHECK(static_cast<int>(dims.size()) == r, "permute: dims ", dims_str(dims), " has ",
             dims.size(), " entries but x has shape ", x.shape().str(), "; expected ", r);
  std::vector<int> perm(r), inverse(r, -1);
  for (int i = 0; i < r; ++i) {
    int d = dims[i] < 0 ? dims[i] + r : dims[i];
    LORY_CHECK(d >= 0 && d < r && inverse[d] < 0, "permute: dims ", dims_str(dims),
               " is not a permutation of the dims of x ", x.shape().str());
    perm[i] = d;
    inverse[d] = i;
  }
  Tensor y = permute_forward(x, perm);
  return record("permute", y, {x}, [inverse](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{permute_forward(dy, inverse)};
  });
}

Tensor transpose(const Tensor& x, int d0, int d1) {
  check_defined(x, "transpose", "x");
  int a = x.shape().normalize(d0), b = x.shape().normalize(d1);
  std::vector<int> dims(x.rank());
  for (int i = 0; i < x.rank(); ++i) dims[i] = i;
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

}  // namespace lory::ops

// cpu::transpose against the definition, at sizes around its 8 × 8 register blocks and with
// padded row strides, in float32 (the vector path) and float64 (the element-wise one).
#include <vector>

#include "catch_compat.h"
#include "core/cpu/transpose.h"

using namespace lory;

namespace {

template <typename T>
void check_transpose(int64_t rows, int64_t cols) {
  const int64_t lds = cols + 3, ldd = rows + 5;
  std::vector<T> src(static_cast<size_t>(rows * lds)), dst(static_cast<size_t>(cols * ldd), T(-1));
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<T>(i) * T(0.5);
  cpu::transpose(src.data(), rows, cols, lds, dst.data(), ldd);
  int64_t wrong = 0;
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < ldd; ++r) {
      const T want = r < rows ? src[r * lds + c] : T(-1);  // the row padding stays untouched
      wrong += dst[c * ldd + r] != want;
    }
  INFO(rows << " x " << cols);
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("transpose matches its definition around the 8 x 8 blocks", "[core]") {
  for (int64_t rows : {1, 7, 8, 9, 16, 63, 64, 256})
    for (int64_t cols : {1, 7, 8, 9, 64, 65}) {
      check_transpose<float>(rows, cols);
      check_transpose<double>(rows, cols);
    }
}

// Shape: the extents of a contiguous row-major tensor, rank 0 (a scalar) to 6.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace lory {

class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  int64_t numel() const;
  // dims[i]; a negative i counts from the end (-1 is the last dim). Checked.
  int64_t operator[](int i) const { return dims_[normalize(i)]; }
  int64_t& operator[](int i) { return dims_[normalize(i)]; }
  // Turns a possibly negative dim index into 0..rank-1, or throws naming the rank.
  int normalize(int dim) const;

  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + rank_}; }
  // Product of the dims before `dim` (outer) and after it (inner).
  int64_t outer(int dim) const;
  int64_t inner(int dim) const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "(2, 3, 4)"

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace lory

// Shape: construction with checks, element counts, printing.
#include "core/shape.h"

#include "core/error.h"

namespace lory {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  LORY_CHECK(dims.size() <= kMaxRank, "Shape: rank ", dims.size(), " exceeds the maximum ",
             kMaxRank);
  rank_ = static_cast<int>(dims.size());
  for (int i = 0; i < rank_; ++i) {
    LORY_CHECK(dims[i] >= 0, "Shape: dim ", i, " is ", dims[i], "; expected a size >= 0");
    dims_[i] = dims[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

int Shape::normalize(int dim) const {
  int d = dim < 0 ? dim + rank_ : dim;
  LORY_CHECK(d >= 0 && d < rank_, "dim ", dim, " is out of range for a tensor of rank ", rank_,
             " (shape ", str(), "); expected ", -rank_, "..", rank_ - 1);
  return d;
}

int64_t Shape::outer(int dim) const {
  int d = normalize(dim);
  int64_t n = 1;
  for (int i = 0; i < d; ++i) n *= dims_[i];
  return n;
}

int64_t Shape::inner(int dim) const {
  int d = normalize(dim);
  int64_t n = 1;
  for (int i = d + 1; i < rank_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + (rank_ == 1 ? ",)" : ")");
}

}  // namespace lory

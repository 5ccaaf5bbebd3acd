// TF-IDF embeddings over hashed word unigrams and bigrams, and the sparse-row container.
#include "data/embedding.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threads.h"

namespace lory {
namespace {

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: spreads FNV hashes over the buckets
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

// One row's (bucket, weight) pairs before normalisation.
struct Row {
  std::vector<int32_t> col;
  std::vector<float> val;
};

}  // namespace

float Embeddings::dot(int64_t i, int64_t j) const {
  int64_t a = row_ptr[i], a_end = row_ptr[i + 1], b = row_ptr[j], b_end = row_ptr[j + 1];
  float sum = 0.0f;
  while (a < a_end && b < b_end) {
    if (col[a] < col[b]) {
      ++a;
    } else if (col[b] < col[a]) {
      ++b;
    } else {
      sum += val[a++] * val[b++];
    }
  }
  return sum;
}

void Embeddings::add_row(const std::vector<int32_t>& cols, const std::vector<float>& vals) {
  LORY_CHECK(cols.size() == vals.size(), "Embeddings::add_row: ", cols.size(), " columns but ",
             vals.size(), " values");
  for (size_t k = 0; k < cols.size(); ++k)
    LORY_CHECK(cols[k] >= 0 && cols[k] < dim && (k == 0 || cols[k] > cols[k - 1]),
               "Embeddings::add_row: column ", cols[k], " at position ", k,
               " is out of range or not increasing (dim ", dim, ")");
  col.insert(col.end(), cols.begin(), cols.end());
  val.insert(val.end(), vals.begin(), vals.end());
  row_ptr.push_back(nnz());
}

Embeddings dense_embeddings(const std::vector<float>& values, int64_t rows, int64_t dim) {
  LORY_CHECK(rows >= 0 && dim >= 1 && static_cast<int64_t>(values.size()) == rows * dim,
             "dense_embeddings: ", values.size(), " values for ", rows, " rows of dimension ", dim);
  Embeddings e;
  e.dim = dim;
  std::vector<int32_t> cols;
  std::vector<float> vals;
  for (int64_t i = 0; i < rows; ++i) {
    const float* x = values.data() + i * dim;
    double norm2 = 0;
    for (int64_t c = 0; c < dim; ++c) norm2 += double{x[c]} * x[c];
    cols.clear();
    vals.clear();
    for (int64_t c = 0; c < dim && norm2 > 0; ++c)
      if (x[c] != 0.0f)
        cols.push_back(static_cast<int32_t>(c)), vals.push_back(x[c] / std::sqrt(norm2));
    e.add_row(cols, vals);
  }
  return e;
}

std::vector<int32_t> hashed_terms(const std::string& text, int hash_bits, bool bigrams) {
  const uint64_t mask = (uint64_t{1} << hash_bits) - 1;
  std::vector<int32_t> terms;
  uint64_t prev = 0;
  bool have_prev = false;
  size_t i = 0, n = text.size();
  while (i < n) {
    while (i < n && !is_word_byte(text[i])) ++i;
    if (i == n) break;
    uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a over the lowercased word
    for (; i < n && is_word_byte(text[i]); ++i) {
      unsigned char c = text[i];
      if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';
      h = (h ^ c) * 0x100000001B3ull;
    }
    terms.push_back(static_cast<int32_t>(mix64(h) & mask));
    if (bigrams && have_prev)
      terms.push_back(
          static_cast<int32_t>(mix64(prev * 0x9E3779B97F4A7C15ull ^ h ^ 0x5BD1E995ull) & mask));
    prev = h;
    have_prev = true;
  }
  return terms;
}

TfidfEmbedder::TfidfEmbedder(TfidfOptions options) : options_(options) {
  LORY_CHECK(options.hash_bits >= 4 && options.hash_bits <= 30, "TfidfEmbedder: hash_bits is ",
             options.hash_bits, "; expected 4..30");
  LORY_CHECK(options.max_df > 0 && options.max_df <= 1, "TfidfEmbedder: max_df is ", options.max_df,
             "; expected a fraction in (0, 1]");
}

Embeddings TfidfEmbedder::embed(const std::vector<std::string>& texts) const {
  const int64_t n = static_cast<int64_t>(texts.size());
  const int64_t buckets = int64_t{1} << options_.hash_bits;
  // Pass 1: each text's distinct buckets (increasing) and sublinear tf 1 + ln(count).
  std::vector<Row> rows(n);
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::vector<int32_t> terms = hashed_terms(texts[i], options_.hash_bits, options_.bigrams);
      std::sort(terms.begin(), terms.end());
      Row& r = rows[i];
      for (size_t a = 0, b; a < terms.size(); a = b) {
        for (b = a; b < terms.size() && terms[b] == terms[a];) ++b;
        r.col.push_back(terms[a]);
        r.val.push_back(1.0f + std::log(static_cast<float>(b - a)));
      }
    }
  });
  // Pass 2: document frequencies (integer counts: any order gives the same result) and idf.
  std::vector<int64_t> df(buckets, 0);
  for (const Row& r : rows)
    for (int32_t c : r.col) ++df[c];
  std::vector<float> idf(buckets, 0.0f);
  for (int64_t c = 0; c < buckets; ++c)
    if (df[c] >= options_.min_df && df[c] > 0 && df[c] <= options_.max_df * n)
      idf[c] = static_cast<float>(std::log(static_cast<double>(n) / df[c]));
  // Pass 3: weights, dropping zero-weight terms, then L2 normalisation of each row.
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Row& r = rows[i];
      size_t kept = 0;
      double norm2 = 0;
      for (size_t k = 0; k < r.col.size(); ++k) {
        float w = r.val[k] * idf[r.col[k]];
        if (w <= 0.0f) continue;
        r.col[kept] = r.col[k];
        r.val[kept++] = w;
        norm2 += double{w} * w;
      }
      r.col.resize(kept);
      r.val.resize(kept);
      float inv = norm2 > 0 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
      for (float& v : r.val) v *= inv;
    }
  });
  Embeddings e;
  e.dim = buckets;
  e.row_ptr.resize(n + 1);
  for (int64_t i = 0; i < n; ++i)
    e.row_ptr[i + 1] = e.row_ptr[i] + static_cast<int64_t>(rows[i].col.size());
  e.col.resize(e.row_ptr[n]);
  e.val.resize(e.row_ptr[n]);
  parallel_for(n, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::copy(rows[i].col.begin(), rows[i].col.end(), e.col.begin() + e.row_ptr[i]);
      std::copy(rows[i].val.begin(), rows[i].val.end(), e.val.begin() + e.row_ptr[i]);
      std::vector<int32_t>().swap(rows[i].col);  // free as we go: peak memory ~ one copy
      std::vector<float>().swap(rows[i].val);
    }
  });
  return e;
}

}  // namespace lory

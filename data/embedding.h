// Document embeddings for similarity ordering (LORY.md §5 step 1): an Embedder interface and
// the default TF-IDF embedder over hashed word unigrams and bigrams.
//
//   TfidfEmbedder tfidf;                       // 2^18 buckets, sublinear tf, idf from the corpus
//   Embeddings e = tfidf.embed(texts);         // row i: L2-normalised sparse vector of text i
//   float cos = e.dot(i, j);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lory {

// N embeddings of dimension `dim` in compressed sparse rows: row i holds the entries
// col[row_ptr[i] .. row_ptr[i+1]) (strictly increasing) with values val[...]. Rows are
// L2-normalised, or empty (a text with no usable term). A dense embedder fills every column.
struct Embeddings {
  int64_t dim = 0;
  std::vector<int64_t> row_ptr{0};
  std::vector<int32_t> col;
  std::vector<float> val;

  int64_t rows() const { return static_cast<int64_t>(row_ptr.size()) - 1; }
  int64_t nnz() const { return static_cast<int64_t>(col.size()); }
  // Cosine similarity of rows i and j: the dot product, summed in increasing column order
  // (the same order the kNN search uses, so both give the same float).
  float dot(int64_t i, int64_t j) const;
  // Appends a row from (column, value) pairs with increasing columns.
  void add_row(const std::vector<int32_t>& cols, const std::vector<float>& vals);
};

// Embeddings from dense row vectors (N x dim, row-major), each L2-normalised; for embedders that
// produce dense vectors (e.g. mean-pooled hidden states of a model). Exact kNN over dense rows
// costs N^2 dim; use the approximate search beyond a few thousand documents.
Embeddings dense_embeddings(const std::vector<float>& values, int64_t rows, int64_t dim);

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual std::string name() const = 0;
  // One L2-normalised row per text, in order.
  virtual Embeddings embed(const std::vector<std::string>& texts) const = 0;
};

struct TfidfOptions {
  int hash_bits = 18;  // 2^18 buckets for unigrams and bigrams together
  bool bigrams = true;
  // Terms in more than this fraction of the documents are dropped: their idf is below
  // ln(1/max_df) and they discriminate little, but their long posting lists dominate the cost
  // of the exact kNN search (quadratic in document frequency). 1 keeps every term.
  double max_df = 0.5;
  int64_t min_df = 1;  // terms in fewer documents are dropped
};

// Words: maximal runs of ASCII letters and digits (lowercased) and bytes >= 0x80 (so UTF-8
// words stay whole); everything else separates. Term weight (1 + ln tf) * ln(N / df), where
// df counts documents containing the term; a term in every document has weight 0 and is
// dropped. Hash collisions merge terms (2^18 buckets keep that rare at our scale).
class TfidfEmbedder : public Embedder {
 public:
  explicit TfidfEmbedder(TfidfOptions options = {});
  std::string name() const override { return "tfidf"; }
  Embeddings embed(const std::vector<std::string>& texts) const override;

 private:
  TfidfOptions options_;
};

// The hashed term buckets of one text (unsorted, with repeats), as the TF-IDF embedder sees it.
std::vector<int32_t> hashed_terms(const std::string& text, int hash_bits, bool bigrams);

}  // namespace lory

// A synthetic multi-domain corpus for tests and benchmarks of the ordering pipeline: every
// domain has its own vocabulary (and topics inside it), all domains share function words.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lory {

struct SyntheticOptions {
  int64_t num_docs = 1000;
  int num_domains = 8;
  int words_per_domain = 2000;  // each domain's own vocabulary
  int topics_per_domain = 10;   // a document draws 30% of its words from one topic's 100 words
  int shared_words = 300;       // function words common to every domain (40% of the words)
  int min_words = 40, max_words = 300;  // document length, uniform
  uint64_t seed = 0;
};

struct SyntheticCorpus {
  std::vector<std::string> texts;
  std::vector<int32_t> domain;  // per document, index into domain_names
  std::vector<std::string> domain_names;
};

// Word frequencies are Zipfian inside every vocabulary. Deterministic in the seed, any thread
// count: document i draws from counters (seed, i * 2^20 + j).
SyntheticCorpus synthetic_corpus(const SyntheticOptions& options);

}  // namespace lory

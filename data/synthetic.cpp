// Synthetic multi-domain corpus: Zipfian draws from shared, domain and topic vocabularies.
#include "data/synthetic.h"

#include <algorithm>

#include "core/error.h"
#include "core/random.h"
#include "core/threads.h"

namespace lory {
namespace {

constexpr int kTopicWords = 100;

// Cumulative Zipf(1) weights over n ranks, normalised to end at 1.
std::vector<double> zipf_cdf(int n) {
  std::vector<double> cdf(n);
  double total = 0;
  for (int r = 0; r < n; ++r) cdf[r] = total += 1.0 / (r + 1);
  for (double& c : cdf) c /= total;
  return cdf;
}

int draw(const std::vector<double>& cdf, double u) {
  auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
  return static_cast<int>(std::min<ptrdiff_t>(it - cdf.begin(), cdf.size() - 1));
}

// A pronounceable, unique word for every integer: consonant-vowel syllables in base 5*19.
std::string word_for(int64_t id, char first) {
  static const char* consonants = "bcdfghjklmnprstvwxz";
  static const char* vowels = "aeiou";
  std::string w(1, first);
  do {
    w += consonants[id % 19];
    id /= 19;
    w += vowels[id % 5];
    id /= 5;
  } while (id > 0);
  return w;
}

}  // namespace

SyntheticCorpus synthetic_corpus(const SyntheticOptions& o) {
  LORY_CHECK(o.num_docs >= 0 && o.num_domains >= 1 && o.shared_words >= 1 &&
                 o.topics_per_domain >= 1 && o.words_per_domain >= kTopicWords &&
                 o.min_words >= 1 && o.max_words >= o.min_words && o.max_words < (1 << 19),
             "synthetic_corpus: invalid options (need num_docs >= 0, num_domains >= 1, "
             "shared_words >= 1, topics_per_domain >= 1, words_per_domain >= ",
             kTopicWords, ", 1 <= min_words <= max_words < 2^19)");
  std::vector<std::string> shared(o.shared_words),
      vocab(int64_t{o.num_domains} * o.words_per_domain);
  for (int i = 0; i < o.shared_words; ++i) shared[i] = word_for(i, 'q');
  for (size_t i = 0; i < vocab.size(); ++i) vocab[i] = word_for(static_cast<int64_t>(i), 'y');
  std::vector<double> shared_cdf = zipf_cdf(o.shared_words),
                      domain_cdf = zipf_cdf(o.words_per_domain), topic_cdf = zipf_cdf(kTopicWords);
  // Topic t of a domain covers 100 words spread over the domain's vocabulary (not its head).
  int topic_stride = std::max(1, (o.words_per_domain - kTopicWords) / o.topics_per_domain);

  SyntheticCorpus c;
  c.texts.resize(o.num_docs);
  c.domain.resize(o.num_docs);
  for (int d = 0; d < o.num_domains; ++d) c.domain_names.push_back("domain" + std::to_string(d));
  parallel_for(o.num_docs, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      uint64_t counter = static_cast<uint64_t>(i) << 20;
      auto u = [&] { return uniform_at(o.seed, counter++); };
      int domain = static_cast<int>(u() * o.num_domains);
      int topic = static_cast<int>(u() * o.topics_per_domain);
      int words = o.min_words + static_cast<int>(u() * (o.max_words - o.min_words + 1));
      const std::string* base = vocab.data() + int64_t{domain} * o.words_per_domain;
      std::string text;
      for (int j = 0; j < words; ++j) {
        double kind = u(), r = u();
        const std::string& w = kind < 0.4   ? shared[draw(shared_cdf, r)]
                               : kind < 0.7 ? base[topic * topic_stride + draw(topic_cdf, r)]
                                            : base[draw(domain_cdf, r)];
        if (j > 0) text += ' ';
        text += w;
      }
      c.texts[i] = std::move(text);
      c.domain[i] = domain;
    }
  });
  return c;
}

}  // namespace lory

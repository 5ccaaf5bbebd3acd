// Tokenizer benchmark: trains BPE on a corpus file, then times encode and decode over it.
//   build/bench_tokenizer [corpus.jsonl] [--vocab 8192] [--repeats 5] [--threads N]
// Prints training time, encode MB/s (cold cache, warm cache, all threads) and decode MB/s,
// each the median of the repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

using namespace lory;
using Clock = std::chrono::steady_clock;

namespace {

using bench::median;

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Wall-clock seconds of fn(); *cpu (if given) gets the process CPU seconds, which for one
// thread is what the run would take on an idle machine (the build machine is often shared).
template <typename F>
double seconds(F&& fn, double* cpu = nullptr) {
  auto t0 = Clock::now();
  double c0 = cpu_now();
  fn();
  if (cpu) *cpu = cpu_now() - c0;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "tests/data/corpus/sample.jsonl";
  int vocab = 8192, repeats = 5, threads = num_threads();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--vocab" || a == "--repeats" || a == "--threads") && i + 1 < argc) {
      int v = std::atoi(argv[++i]);
      (a == "--vocab" ? vocab : a == "--repeats" ? repeats : threads) = v;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr,
                   "usage: bench_tokenizer [corpus.jsonl] [--vocab N] [--repeats R] "
                   "[--threads T]\n");
      return 2;
    } else {
      path = a;
    }
  }
  try {
    set_num_threads(std::max(1, threads));
    std::vector<std::string> texts;
    double t_read = seconds([&] { texts = corpus_texts(read_corpus_jsonl(path)); });
    double mb = 0;
    for (auto& t : texts) mb += t.size() / 1e6;
    std::printf("corpus: %s: %zu documents, %.2f MB (read in %.2f s), %d threads\n", path.c_str(),
                texts.size(), mb, t_read, num_threads());

    Tokenizer tok;
    double cpu;
    double t_train = seconds([&] { tok = Tokenizer::train(texts, vocab); }, &cpu);
    std::printf("train: vocab %d (%d merges) in %.2f s (%.2f CPU s)\n", tok.vocab_size(),
                tok.num_merges(), t_train, cpu);

    std::vector<std::vector<int32_t>> ids(texts.size());
    std::vector<double> cold, warm, batch, dec, cold_cpu, warm_cpu, dec_cpu;
    for (int r = 0; r < repeats; ++r) {
      tok.clear_cache();
      cold.push_back(seconds(
          [&] {
            for (size_t i = 0; i < texts.size(); ++i) ids[i] = tok.encode(texts[i]);
          },
          &cpu));
      cold_cpu.push_back(cpu);
      warm.push_back(seconds(
          [&] {
            for (size_t i = 0; i < texts.size(); ++i) ids[i] = tok.encode(texts[i]);
          },
          &cpu));
      warm_cpu.push_back(cpu);
      batch.push_back(seconds([&] { ids = tok.encode_batch(texts); }));
      size_t check = 0;
      dec.push_back(seconds(
          [&] {
            for (auto& v : ids) check += tok.decode(v).size();
          },
          &cpu));
      dec_cpu.push_back(cpu);
      LORY_CHECK(check == static_cast<size_t>(mb * 1e6 + 0.5), "decode lost bytes");
    }
    size_t n_ids = 0;
    for (auto& v : ids) n_ids += v.size();
    std::printf("tokens: %zu (%.2f bytes/token)\n", n_ids, mb * 1e6 / n_ids);
    std::printf(
        "encode: %.1f MB/s cold cache, %.1f MB/s warm cache (1 thread; per CPU "
        "second: %.1f, %.1f); %.1f MB/s encode_batch (%d threads)\n",
        mb / median(cold), mb / median(warm), mb / median(cold_cpu), mb / median(warm_cpu),
        mb / median(batch), num_threads());
    std::printf("decode: %.1f MB/s (per CPU second: %.1f)\n", mb / median(dec),
                mb / median(dec_cpu));
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}

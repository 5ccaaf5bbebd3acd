// The subcommands of the `lory` program. Each takes the arguments after its name and returns the
// process exit status; errors are thrown as lory::Error and printed by main() as one line.
#pragma once

namespace lory::cli {

int cmd_corpus(int argc, char** argv);
int cmd_tokenizer(int argc, char** argv);  // "tokenizer train"
int cmd_tokenize(int argc, char** argv);
int cmd_order(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_routing(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_gradcheck(int argc, char** argv);

}  // namespace lory::cli

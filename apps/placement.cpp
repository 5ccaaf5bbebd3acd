// --device / --precision: the options and their checks (train/trainer.h holds the rules, so the
// trainer and the command line say the same thing).
#include "apps/placement.h"

#include "train/trainer.h"

namespace lory::cli {

std::vector<Option> with_placement(std::vector<Option> options, bool precision) {
  options.push_back({"device", "NAME", "cpu or cuda (a CUDA build and a GPU)", "cpu"});
  if (precision)
    options.push_back(
        {"precision", "P", "fp32, tf32 (TF32 GPU GEMMs) or bf16 (mixed, cuda only)", "fp32"});
  return options;
}

Placement placement(const Args& a) {
  Placement p;
  p.device = resolve_device(a.get("device"));
  if (a.has("precision")) p.precision = parse_precision(a.get("precision"));
  check_precision_device(p.precision, p.device);
  return p;
}

}  // namespace lory::cli

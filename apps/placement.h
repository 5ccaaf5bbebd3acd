// The --device and --precision options of the commands that run a model (eval, generate,
// routing, bench): declared once, read once, checked against this build and machine.
#pragma once
#include <vector>

#include "apps/args.h"
#include "models/transformer.h"

namespace lory::cli {

struct Placement {
  Device device = Device::cpu;
  Precision precision = Precision::fp32;
};

// Appends --device (default cpu) and, with `precision`, --precision (default fp32).
std::vector<Option> with_placement(std::vector<Option> options, bool precision);

// The parsed options: "device 'cuda' requested but this build has no CUDA backend" (or "... no
// CUDA device is present") before any file is read; bf16 only with cuda. A command without
// --precision runs in fp32.
Placement placement(const Args& a);

}  // namespace lory::cli

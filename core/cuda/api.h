// How C++ code calls into the CUDA side without #ifdefs. A function declared with
// LORY_CUDA_API(name(args...)) is defined in a .cu file when the CUDA backend is built; in a
// build without CUDA it becomes an inline function that fails with a clear message. No CUDA
// tensor can exist in such a build, so those stubs are only reached by a caller's mistake.
// This header includes no CUDA headers: ops/*.cpp include it freely.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lory::cuda {
[[noreturn]] void not_built();  // "this build of lory has no CUDA backend; ..."
}  // namespace lory::cuda

#ifdef LORY_WITH_CUDA
#define LORY_CUDA_API(signature) void signature;
#else
#define LORY_CUDA_API(signature)                                          \
  _Pragma("GCC diagnostic push")                                          \
  _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"")                \
  [[noreturn]] inline void signature { ::lory::cuda::not_built(); }      \
  _Pragma("GCC diagnostic pop")
#endif

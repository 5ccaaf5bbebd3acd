// cross_entropy on the GPU: launchers for ops/cross_entropy.cpp. logits (R, V) in dtype dt (f32,
// bf16 or f64), targets i32 (R) on the GPU; row_max and row_logsum (R) in fp32 (f64 for f64).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// Writes row_max, row_logsum (lse = row_max + row_logsum) and the scalar loss (dtype dt): the mean
// of lse_r - x_r[t_r] over rows with t_r != ignore_index, 0 when there is none. Returns on the
// host n (rows counted) and bad_row: the first row whose target is neither ignore_index nor in
// [0, V), or -1, with its target in bad_target (the caller raises the error; loss is then
// meaningless). Reading these back is the op's one host synchronisation.
LORY_CUDA_API(cross_entropy_forward(DType dt, const void* logits, const void* targets,
                                    void* row_max, void* row_logsum, void* loss, int64_t R,
                                    int64_t V, int ignore_index, int64_t* n, int64_t* bad_row,
                                    int32_t* bad_target))
// dlogits = (softmax - onehot(t)) · dloss / n per counted row, 0 on ignored rows. dloss is the
// scalar gradient of the loss (dtype dt) on the GPU; n > 0 unless every row is ignored.
LORY_CUDA_API(cross_entropy_backward(DType dt, const void* logits, const void* targets,
                                     const void* row_max, const void* row_logsum,
                                     const void* dloss, void* dlogits, int64_t R, int64_t V,
                                     int ignore_index, int64_t n))

}  // namespace lory::ops::cuda

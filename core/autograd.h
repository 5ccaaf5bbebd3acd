// Reverse-mode autograd: a define-by-run tape. An op that has an input requiring grad (with grad
// mode on) attaches a Node to its output: edges to its inputs' producers and a backward closure
// holding only what the gradient needs. backward() sorts the nodes topologically (iteratively:
// graphs are deep), runs them in reverse, and ACCUMULATES into the leaves' grad().
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace lory {

// Given the gradient of the op's output, returns one gradient per input, in input order.
// needs[i] says whether input i wants a gradient; an entry may be left undefined when it does
// not (or returned undefined to mean "zero").
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& dout, const std::vector<bool>& needs)>;

// Where an input's gradient goes: the node that produced it, or the leaf itself.
struct Edge {
  std::shared_ptr<Node> node;        // non-leaf input: its producer
  std::shared_ptr<TensorImpl> leaf;  // leaf input that requires grad
  Shape shape;                       // the input's shape (gradients are checked against it)
  DType dtype = DType::f32;
  bool wants_grad() const { return node || leaf; }
};

struct Node {
  const char* op = "";          // name of the op that produced the output, for messages
  std::vector<Edge> next;       // one edge per input
  BackwardFn backward;          // released after it has run (frees the saved tensors)
  Tensor grad;                  // gradient of the output, accumulated during backward()
  bool grad_owned = false;      // grad is a buffer of our own (safe to accumulate into)
  std::weak_ptr<TensorImpl> retained;  // the output, when it asked to retain its gradient
  ~Node();                      // dismantles long chains iteratively (no deep recursion)
};

// Grad mode is on by default; NoGradGuard turns it off in a scope (evaluation, inference,
// optimizer updates).
bool grad_mode_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of the tensors requires grad: an op records a node only then.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node for `op` to `out` when any input requires grad; returns `out`. The closure
// must not capture `out` itself (that would be a cycle): save `out.detach()` instead.
Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs backward from `root` seeded with `grad_root` (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_root);

}  // namespace lory

// The autograd engine: recording nodes, topological sort, reverse pass, gradient accumulation.
#include "core/autograd.h"

#include <unordered_set>

#include "core/profiler.h"

namespace lory {
namespace {
thread_local bool g_grad_mode = true;
thread_local bool g_in_backward = false;  // ops run by backward closures are not forward time
}

bool grad_mode_enabled() { return g_grad_mode; }
NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Node::~Node() {
  // Destroying the last handle to a chain of 10,000 nodes would recurse 10,000 deep. Instead,
  // steal the edges of every node that is about to die and drop them one by one here.
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& e : next)
    if (e.node) pending.push_back(std::move(e.node));
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n.use_count() == 1)
      for (Edge& e : n->next)
        if (e.node) pending.push_back(std::move(e.node));
  }
}

Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (profiler::enabled() && !g_in_backward) profiler::on_forward(op);
  if (!any_requires_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.shape();
      e.dtype = t.dtype();
      if (t.requires_grad()) {
        if (t.is_leaf())
          e.leaf = t.shared_impl();
        else
          e.node = t.grad_fn();
      }
    }
    node->next.push_back(std::move(e));
  }
  node->backward = std::move(backward);
  TensorImpl* impl = out.impl_ptr();
  impl->grad_fn = std::move(node);
  impl->requires_grad = true;
  return out;
}

namespace {

// Nodes reachable from root, ordered so that every node comes after all nodes that consume its
// output (reverse post-order of an iterative depth-first search).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (i < node->next.size()) {
      Node* child = node->next[i++].node.get();
      if (child && seen.insert(child).second) stack.push_back({child, 0});
    } else {
      post.push_back(node);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

void add_to_node(Node& n, const Tensor& g) {
  if (!n.grad.defined()) {
    n.grad = g;  // may alias another gradient: copy before accumulating into it
    n.grad_owned = false;
    return;
  }
  if (!n.grad_owned) {  // the first sum goes to a new tensor: one pass instead of copy + add
    n.grad = sum_of(n.grad, g);
    n.grad_owned = true;
    return;
  }
  accumulate_(n.grad, g);
}

void add_to_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad) {
    leaf.grad = g.clone().shared_impl();
    return;
  }
  accumulate_(Tensor(leaf.grad), g);
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root) {
  LORY_CHECK(root.requires_grad(), "backward: the tensor ", root.str(),
             " does not require grad (no input of its graph has requires_grad set)");
  check_same_shape(root, grad_root, "backward", "tensor", "grad_output");
  if (root.is_leaf()) {
    add_to_leaf(*root.impl_ptr(), grad_root);
    return;
  }
  NoGradGuard no_grad;  // gradients are computed without recording a graph of their own
  struct InBackward {
    bool saved = g_in_backward;
    InBackward() { g_in_backward = true; }
    ~InBackward() { g_in_backward = saved; }
  } in_backward;
  const bool profiling = profiler::enabled();
  Node* top = root.grad_fn().get();
  add_to_node(*top, grad_root);
  for (Node* node : topological_order(top)) {
    if (!node->grad.defined()) continue;  // nothing flowed into this part of the graph
    LORY_CHECK(node->backward, "backward: the graph through '", node->op,
               "' was already used by an earlier backward(); build it again (run the forward "
               "pass again) to differentiate a second time");
    if (auto out = node->retained.lock()) out->grad = node->grad.clone().shared_impl();
    const profiler::Clock::time_point t0 = profiling ? profiler::now() : profiler::Clock::time_point();
    std::vector<bool> needs(node->next.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->next[i].wants_grad();
    std::vector<Tensor> grads = node->backward(node->grad, needs);
    node->backward = nullptr;  // frees what the op saved for backward
    node->grad = Tensor();
    LORY_ASSERT(grads.size() == node->next.size(), node->op, " returned ", grads.size(),
                " gradients for ", node->next.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.wants_grad() || !grads[i].defined()) continue;
      LORY_ASSERT(grads[i].shape() == e.shape && grads[i].dtype() == e.dtype, node->op,
                  ": gradient of input ", i, " is ", grads[i].str(), " but the input is ",
                  dtype_name(e.dtype), " ", e.shape.str());
      if (e.node)
        add_to_node(*e.node, grads[i]);
      else
        add_to_leaf(*e.leaf, grads[i]);
    }
    if (profiling) profiler::add_backward(node->op, profiler::seconds_since(t0));
  }
}

}  // namespace lory

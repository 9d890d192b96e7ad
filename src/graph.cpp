// The autograd graph behind a tensor, read from libtorch's own nodes: the minimal C API that
// src/graph.rs wraps. tch exposes no grad_fn, so this file is compiled by build.rs against the
// libtorch headers torch-sys builds with.
//
// Every function returns 0 with its result in `*result`, or 1 with the message of the C++
// exception it caught in `*error`; none ever lets an exception cross into Rust. All strings
// are malloc'd; the caller frees them with nnopt_free.

#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include "ffi_guard.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <deque>
#include <sstream>
#include <string>
#include <unordered_map>

namespace {

// A malloc'd copy; throws std::bad_alloc rather than return null, which would read as "no
// grad_fn" (guarded() turns it into an error; its own message copy is tiny).
char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) {
    throw std::bad_alloc();
  }
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// PyTorch prints C++-defined nodes without their namespace: torch::autograd::AccumulateGrad is
// <AccumulateGrad object at …> in Python; generated nodes (AddmmBackward0) have none.
std::string python_name(const torch::autograd::Node& node) {
  std::string name = node.name();
  auto colon = name.rfind("::");
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

// Runs `body`, which returns the result string (null: none), and stores it in *result; the
// status and *error as nnopt_guarded (src/ffi_guard.h) gives them.
template <typename F>
int guarded(char** result, char** error, F body) {
  *result = nullptr;
  return nnopt_guarded(error, [&] { *result = body(); });
}

}  // namespace

extern "C" {

void nnopt_free(char* s) { std::free(s); }

// The name of `tensor`'s grad_fn, or null (with *error null) for a leaf or a tensor outside
// any graph.
int nnopt_grad_fn_name(const at::Tensor* tensor, char** result, char** error) {
  return guarded(result, error, [&]() -> char* {
    const auto& fn = tensor->grad_fn();
    return fn ? copy_string(python_name(*fn)) : nullptr;
  });
}

// Makes `grad` the .grad of `variable` (a leaf that requires grad). Backward then accumulates
// into it in place (AccumulateGrad adds into a defined grad when no graph is being built), so
// every parameter's gradient can be a view of one flat buffer: see src/flat.rs.
int nnopt_set_grad(at::Tensor* variable, const at::Tensor* grad, char** result, char** error) {
  return guarded(result, error, [&]() -> char* {
    // The checks Python's `.grad` setter makes: a gradient the shape, type and device of its
    // variable, which must be a leaf.
    TORCH_CHECK(variable->is_leaf(), "set_grad: not a leaf variable");
    TORCH_CHECK(grad->sizes() == variable->sizes(), "set_grad: the gradient's shape differs from the variable's");
    TORCH_CHECK(grad->scalar_type() == variable->scalar_type(), "set_grad: the gradient's type differs");
    TORCH_CHECK(grad->device() == variable->device(), "set_grad: the gradient's device differs");
    variable->mutable_grad() = *grad;
    return nullptr;
  });
}

// An identity for the storage-independent tensor object: what AccumulateGrad's variable shares
// with the VarStore's parameter.
uintptr_t nnopt_tensor_id(const at::Tensor* tensor) {
  return reinterpret_cast<uintptr_t>(tensor->unsafeGetTensorImpl());
}

// The backward graph reachable from `tensor`'s grad_fn, breadth first, each node once, as lines:
//   N <id> <name> <leaf tensor id, or 0>
//   E <from id> <to id> <position in from's next_functions>
// Ids count from 0 in discovery order, as a Python walk over next_functions finds them. Empty
// for a tensor without grad_fn. Iterative: a 10 000-node chain needs no deep stack.
int nnopt_backward_graph(const at::Tensor* tensor, char** result, char** error) {
  return guarded(result, error, [&]() -> char* {
    std::ostringstream out;
    const auto& root = tensor->grad_fn();
    if (!root) {
      return copy_string("");
    }
    std::unordered_map<const torch::autograd::Node*, size_t> ids;
    std::deque<const torch::autograd::Node*> queue;
    auto discover = [&](const torch::autograd::Node* node) {
      auto found = ids.find(node);
      if (found != ids.end()) {
        return found->second;
      }
      size_t id = ids.size();
      ids.emplace(node, id);
      uintptr_t leaf = 0;
      if (auto acc = dynamic_cast<const torch::autograd::AccumulateGrad*>(node)) {
        leaf = reinterpret_cast<uintptr_t>(acc->variable.unsafeGetTensorImpl());
      }
      out << "N\t" << id << '\t' << python_name(*node) << '\t' << leaf << '\n';
      queue.push_back(node);
      return id;
    };
    discover(root.get());
    while (!queue.empty()) {
      const torch::autograd::Node* node = queue.front();
      queue.pop_front();
      size_t from = ids.at(node);
      const auto& edges = node->next_edges();
      for (size_t i = 0; i < edges.size(); ++i) {
        // An input that needs no gradient is (None, 0) in next_functions: no node, no edge.
        if (!edges[i].function) {
          continue;
        }
        size_t to = discover(edges[i].function.get());
        out << "E\t" << from << '\t' << to << '\t' << i << '\n';
      }
    }
    return copy_string(out.str());
  });
}

}  // extern "C"

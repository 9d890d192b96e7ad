// CUDA graphs for the training step: libtorch's own at::cuda::CUDAGraph (private memory pool,
// capture on a side stream) behind a minimal C API that src/cuda_shim.rs loads; and the C API of
// the fused SGD kernels (src/fused_sgd.cu, src/fused.rs), where build.rs could compile them.
//
// This file needs libtorch_cuda, which nnopt does not link (CPU runs stay free of CUDA, see
// src/cuda.rs), so build.rs compiles it as a shared library of its own, embedded in the binary
// and dlopened only after libtorch_cuda.so is loaded: its DT_NEEDED entries (libtorch_cuda.so,
// libc10_cuda.so, libcudart.so.13) are then found among the libraries already in the process.
//
// Every function returns 0, or 1 with the message of the C++ exception it caught in *error
// (malloc'd; freed with nnopt_cg_free_string); none lets an exception cross into Rust.

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "ffi_guard.h"

#include <cstdlib>

#ifdef NNOPT_FUSED_SGD
// The launchers in src/fused_sgd.cu (compiled by nvcc; build.rs defines NNOPT_FUSED_SGD when it
// links them in).
extern "C" cudaError_t nnopt_launch_sgd_flat(float* param, const float* grad, float* velocity,
                                             int64_t n, float weight_decay, float momentum,
                                             float neg_lr, int flags, cudaStream_t stream);
extern "C" cudaError_t nnopt_launch_sgd_stack(float* flat, const float* grad, float* velocity,
                                              int64_t n, int64_t per_member, const float* lr,
                                              const float* mu, const float* lambda,
                                              const bool* active, cudaStream_t stream);

namespace {

// The kernels index raw memory: every buffer must be what they assume, or nothing is launched.
void require(const at::Tensor& t, const char* name, at::ScalarType type, const at::Tensor& like) {
  TORCH_CHECK(t.defined() && t.is_cuda() && t.device() == like.device() && t.scalar_type() == type &&
                  t.is_contiguous(),
              "fused SGD: ", name, " must be a contiguous ", c10::toString(type), " tensor on ",
              like.device());
}

// Before a launch: an error already pending on this thread is someone else's, and the launch's
// own check (cudaGetLastError) would return it as ours.
void nothing_pending() {
  cudaError_t pending = cudaPeekAtLastError();
  TORCH_CHECK(pending == cudaSuccess, "a CUDA error was pending before the fused SGD kernel: ",
              cudaGetErrorString(pending));
}

void launched(cudaError_t status) {
  TORCH_CHECK(status == cudaSuccess, "launching the fused SGD kernel: ", cudaGetErrorString(status));
}

const at::Tensor& tensor(void* t) { return *static_cast<at::Tensor*>(t); }

}  // namespace
#endif

// The private pool's id of a graph whose capture failed (CUDAGraph::pool() is only for a
// captured one): a derived class may name the protected member.
struct PoolOf : at::cuda::CUDAGraph {
  static auto of(at::cuda::CUDAGraph& g) { return g.*(&PoolOf::mempool_id_); }
};

extern "C" {

// Makes a stream from libtorch's pool the current stream of `device` (a graph cannot be captured
// on the default stream) and returns the stream it replaces in *saved. The device is synchronized
// first, so the side stream sees everything queued before it.
int nnopt_cg_stream_enter(int device, void** saved, char** error) {
  *saved = nullptr;
  return nnopt_guarded(error, [&] {
    auto index = static_cast<c10::DeviceIndex>(device);
    c10::cuda::CUDAGuard guard(index);
    c10::cuda::device_synchronize();
    auto side = c10::cuda::getStreamFromPool(false, index);
    auto* previous = new c10::cuda::CUDAStream(c10::cuda::getCurrentCUDAStream(index));
    c10::cuda::setCurrentCUDAStream(side);
    *saved = previous;
  });
}

// Restores the stream `saved` names (and frees it), then waits for its device's work — inside
// the guard of that device, so a run on cuda:1 waits for cuda:1, not for device 0. The stream
// is restored even where the wait fails.
int nnopt_cg_stream_leave(void* saved, char** error) {
  auto* previous = static_cast<c10::cuda::CUDAStream*>(saved);
  auto index = previous->device_index();
  int status = nnopt_guarded(error, [&] {
    c10::cuda::CUDAGuard guard(index);
    c10::cuda::setCurrentCUDAStream(*previous);
  });
  delete previous;
  if (status != 0) {
    return status;
  }
  return nnopt_guarded(error, [&] {
    c10::cuda::CUDAGuard guard(index);
    c10::cuda::device_synchronize();
  });
}

// After a capture that failed: with libtorch 2.11, a failing cudaStreamEndCapture throws out of
// capture_end before the caching allocator stops routing the side stream's allocations to the
// graph's private pool (fixed upstream in 2.12). End that routing here — an error because it
// had already ended is expected and ignored. The graph itself is then leaked by the caller, never
// destroyed: its destructor would release a pool the allocator no longer agrees about.
void nnopt_cg_abandon(void* graph) {
  char* ignored = nullptr;
  nnopt_guarded(&ignored, [&] {
    auto& g = *static_cast<at::cuda::CUDAGraph*>(graph);
    // pool() refuses a graph without a successful capture; the id is read as a subclass may.
    c10::cuda::CUDACachingAllocator::endAllocateToPool(c10::cuda::current_device(), PoolOf::of(g));
  });
  std::free(ignored);
}

int nnopt_cg_new(void** graph, char** error) {
  *graph = nullptr;
  return nnopt_guarded(error, [&] { *graph = new at::cuda::CUDAGraph(); });
}

// Starts capturing the current stream into `graph`, allocating from the graph's private pool.
int nnopt_cg_capture_begin(void* graph, char** error) {
  return nnopt_guarded(error, [&] { static_cast<at::cuda::CUDAGraph*>(graph)->capture_begin(); });
}

// Ends the capture and instantiates the graph.
int nnopt_cg_capture_end(void* graph, char** error) {
  return nnopt_guarded(error, [&] { static_cast<at::cuda::CUDAGraph*>(graph)->capture_end(); });
}

// Launches the captured work once on the current stream.
int nnopt_cg_replay(void* graph, char** error) {
  return nnopt_guarded(error, [&] { static_cast<at::cuda::CUDAGraph*>(graph)->replay(); });
}

// The destructor releases the graph and its memory pool (destructors are noexcept).
void nnopt_cg_free(void* graph) { delete static_cast<at::cuda::CUDAGraph*>(graph); }

void nnopt_cg_free_string(char* s) { std::free(s); }

#ifdef NNOPT_FUSED_SGD
// One torch::optim::SGD step (dampening 0) over a flat buffer, in one kernel on the current
// stream: `param`, `grad` and `velocity` are at::Tensor* of one CUDA float32 buffer's shape.
int nnopt_sgd_flat(void* param, void* grad, void* velocity, double weight_decay, double momentum,
                   double lr, int nesterov, int first, char** error) {
  return nnopt_guarded(error, [&] {
    const at::Tensor& p = tensor(param);
    require(p, "the parameters", at::kFloat, p);
    require(tensor(grad), "the gradients", at::kFloat, p);
    require(tensor(velocity), "the momentum", at::kFloat, p);
    TORCH_CHECK(tensor(grad).numel() == p.numel() && tensor(velocity).numel() == p.numel(),
                "fused SGD: the gradients and momentum must match the parameters' ", p.numel(),
                " values");
    const int flags = (weight_decay != 0 ? 1 : 0) | (momentum != 0 ? 2 : 0) | (nesterov ? 4 : 0) |
                      (first ? 8 : 0);
    c10::cuda::CUDAGuard guard(p.device());
    nothing_pending();
    // ATen turns each double option into the kernels' float (Scalar::to<float>), -lr included.
    launched(nnopt_launch_sgd_flat(
        p.data_ptr<float>(), tensor(grad).data_ptr<float>(), tensor(velocity).data_ptr<float>(),
        p.numel(), static_cast<float>(weight_decay), static_cast<float>(momentum),
        static_cast<float>(-1 * lr), flags, c10::cuda::getCurrentCUDAStream(p.device().index())));
  });
}

// The population's SGD step over [K, P] buffers with per-member [K, 1] settings and mask.
int nnopt_sgd_stack(void* flat, void* grad, void* velocity, void* lr, void* mu, void* lambda,
                    void* active, char** error) {
  return nnopt_guarded(error, [&] {
    const at::Tensor& f = tensor(flat);
    require(f, "the parameters", at::kFloat, f);
    TORCH_CHECK(f.dim() == 2, "fused SGD: the parameters must be [K, P], not ", f.sizes());
    require(tensor(grad), "the gradients", at::kFloat, f);
    require(tensor(velocity), "the momentum", at::kFloat, f);
    TORCH_CHECK(tensor(grad).sizes() == f.sizes() && tensor(velocity).sizes() == f.sizes(),
                "fused SGD: the gradients and momentum must be ", f.sizes());
    const int64_t k = f.size(0);
    for (auto [t, name, type] : {std::tuple{lr, "lr", at::kFloat}, {mu, "mu", at::kFloat},
                                 {lambda, "lambda", at::kFloat}, {active, "active", at::kBool}}) {
      require(tensor(t), name, type, f);
      TORCH_CHECK(tensor(t).numel() == k, "fused SGD: ", name, " needs one value per member (", k,
                  "), not ", tensor(t).numel());
    }
    c10::cuda::CUDAGuard guard(f.device());
    nothing_pending();
    launched(nnopt_launch_sgd_stack(
        f.data_ptr<float>(), tensor(grad).data_ptr<float>(), tensor(velocity).data_ptr<float>(),
        f.numel(), f.size(1), tensor(lr).data_ptr<float>(), tensor(mu).data_ptr<float>(),
        tensor(lambda).data_ptr<float>(), tensor(active).data_ptr<bool>(),
        c10::cuda::getCurrentCUDAStream(f.device().index())));
  });
}
#endif

}  // extern "C"

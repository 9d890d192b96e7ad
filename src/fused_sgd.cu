// SGD's update fused into one kernel: one pass over the parameters, their gradients and the
// momentum, where libtorch's SGD launches five kernels over one network's flat buffer and the
// population's update nine over its [K, P] buffers. On a GPU a step of the notebook's network
// is launch-bound, so kernels, not arithmetic, are what a step waits on.
//
// The arithmetic is the unfused kernels', operation for operation, so the numbers are theirs bit
// for bit: ATen's `add(a, b, alpha)` computes `a + alpha * b` and nvcc contracts it into one
// fused multiply-add (`__fmaf_rn`); `mul` is one rounded product (`__fmul_rn`); `add`, `sub`
// without alpha one rounded sum (`__fadd_rn`, `__fsub_rn`). The intrinsics are never contracted
// or reordered, whatever the compiler's flags. The CUDA tests compare against libtorch's SGD and
// the population's unfused update, bit for bit.
//
// build.rs compiles this with nvcc into the CUDA shim (src/cuda_graph.cpp calls the launchers);
// kernels are launched on the caller's stream, so a CUDA graph captures them like any other.

#include <cuda_runtime.h>

#include <cstdint>

namespace {

constexpr int kThreads = 256;

// Flags of the one-network update (torch::optim::SGD's options).
constexpr int kWeightDecay = 1;  // weight_decay != 0
constexpr int kMomentum = 2;     // momentum != 0
constexpr int kNesterov = 4;
constexpr int kFirst = 8;  // the first step: the momentum buffer starts as the gradient

// torch::optim::SGD::step on one element, dampening 0:
//   d = g.add(p, wd); buf = first ? d : buf.mul_(mu).add_(d); d = nesterov ? d.add(buf, mu) : buf;
//   p.add_(d, -lr)
__global__ void sgd_flat(float* __restrict__ param, const float* __restrict__ grad,
                         float* __restrict__ velocity, int64_t n, float weight_decay, float momentum,
                         float neg_lr, int flags) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float p = param[i];
    float d = grad[i];
    if (flags & kWeightDecay) {
      d = __fmaf_rn(weight_decay, p, d);
    }
    if (flags & kMomentum) {
      // add_(d, 1): fma(1, d, x) is x + d rounded once.
      const float buf = (flags & kFirst) ? d : __fadd_rn(__fmul_rn(velocity[i], momentum), d);
      velocity[i] = buf;
      d = (flags & kNesterov) ? __fmaf_rn(momentum, buf, d) : buf;
    }
    param[i] = __fmaf_rn(neg_lr, d, p);
  }
}

// The population's update (src/population/stack.rs), member m = i / per_member, its settings
// the m-th entries of lr, mu, lambda and active:
//   g = grad + flat * λ; v = v * μ + g; step = g + v * μ; change = step * lr;
//   flat -= (active ? change : 0)
// A frozen member's parameters are not written at all: x − 0 is x, NaN and −0 included.
__global__ void sgd_stack(float* __restrict__ flat, const float* __restrict__ grad,
                          float* __restrict__ velocity, int64_t n, int64_t per_member,
                          const float* __restrict__ lr, const float* __restrict__ mu,
                          const float* __restrict__ lambda, const bool* __restrict__ active) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = i / per_member;
    const float theta = flat[i];
    const float g = __fadd_rn(grad[i], __fmul_rn(theta, lambda[m]));
    const float v = __fadd_rn(__fmul_rn(velocity[i], mu[m]), g);
    velocity[i] = v;
    const float change = __fmul_rn(__fadd_rn(g, __fmul_rn(v, mu[m])), lr[m]);
    if (active[m]) {
      flat[i] = __fsub_rn(theta, change);
    }
  }
}

// Enough blocks to cover n once, capped: the loops stride over the rest.
unsigned blocks(int64_t n) {
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(wanted < 65536 ? (wanted > 0 ? wanted : 1) : 65536);
}

}  // namespace

extern "C" {

// Launches sgd_flat on `stream`; returns the launch's error (cudaSuccess where it was queued).
// The caller makes sure no error was pending before (cudaGetLastError would return that one).
cudaError_t nnopt_launch_sgd_flat(float* param, const float* grad, float* velocity, int64_t n,
                                  float weight_decay, float momentum, float neg_lr, int flags,
                                  cudaStream_t stream) {
  sgd_flat<<<blocks(n), kThreads, 0, stream>>>(param, grad, velocity, n, weight_decay, momentum,
                                               neg_lr, flags);
  return cudaGetLastError();
}

// Launches sgd_stack on `stream`.
cudaError_t nnopt_launch_sgd_stack(float* flat, const float* grad, float* velocity, int64_t n,
                                   int64_t per_member, const float* lr, const float* mu,
                                   const float* lambda, const bool* active, cudaStream_t stream) {
  sgd_stack<<<blocks(n), kThreads, 0, stream>>>(flat, grad, velocity, n, per_member, lr, mu, lambda,
                                                active);
  return cudaGetLastError();
}

}  // extern "C"

// CUDA graphs for the training step: libtorch's own at::cuda::CUDAGraph (private memory pool,
// capture on a side stream) behind a minimal C API that src/cuda_graph.rs loads.
//
// This file needs libtorch_cuda, which nnopt does not link (CPU runs stay free of CUDA, see
// src/cuda.rs), so build.rs compiles it as a shared library of its own, embedded in the binary
// and dlopened only after libtorch_cuda.so is loaded: its DT_NEEDED entries (libtorch_cuda.so,
// libc10_cuda.so, libcudart.so.13) are then found among the libraries already in the process.
//
// Every function returns 0, or 1 with the message of the C++ exception it caught in *error
// (malloc'd; freed with nnopt_cg_free_string); none lets an exception cross into Rust.

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "ffi_guard.h"

#include <cstdlib>

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

// Restores the stream `saved` names (and frees it), then waits for the side stream's work: the
// stream is restored even where the wait fails.
int nnopt_cg_stream_leave(void* saved, char** error) {
  auto* previous = static_cast<c10::cuda::CUDAStream*>(saved);
  int status = nnopt_guarded(error, [&] {
    c10::cuda::CUDAGuard guard(previous->device_index());
    c10::cuda::setCurrentCUDAStream(*previous);
  });
  delete previous;
  if (status != 0) {
    return status;
  }
  return nnopt_guarded(error, [&] { c10::cuda::device_synchronize(); });
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

}  // extern "C"

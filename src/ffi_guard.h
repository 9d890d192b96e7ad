// The one rule of nnopt's C APIs (src/graph.cpp, src/cuda_graph.cpp): no C++ exception crosses
// into Rust. `nnopt_guarded` runs `body`; it returns 0, or 1 after any exception, with the
// exception's message in *error (strdup'd; null if even that copy failed).
#pragma once

#include <cstring>
#include <exception>

template <typename F>
int nnopt_guarded(char** error, F body) {
  *error = nullptr;
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    *error = strdup(e.what());
  } catch (...) {
    *error = strdup("unknown C++ exception");
  }
  return 1;
}

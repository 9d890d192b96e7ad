//! Makes the `nnopt` binaries find libtorch at run time and see CUDA.
//!
//! torch-sys links libtorch but leaves finding it at run time to the user (`LD_LIBRARY_PATH`).
//! It exports its lib dir to direct dependents as `DEP_TCH_LIBTORCH_LIB` (its `links` key is
//! `tch`), so we embed that directory as an rpath. `libtorch_cuda.so` is *not* linked: without
//! it libtorch sees no CUDA, so `src/cuda.rs` dlopens it at start-up where a driver exists
//! (the directory is passed to it as `NNOPT_LIBTORCH_LIB`).

//!
//! It also compiles `src/graph.cpp` (the autograd graph reader, see `src/graph.rs`) against the
//! same libtorch headers torch-sys compiles with: `<libtorch>/include` and
//! `<libtorch>/include/torch/csrc/api/include` (the root is `LIBTORCH_INCLUDE` where a user set
//! it for torch-sys, else the parent of torch-sys's lib dir), C++17, and
//! `_GLIBCXX_USE_CXX11_ABI=1`: libtorch 2.11, the only version tch 0.24 accepts, is built with
//! the C++11 ABI only (PyTorch stopped shipping pre-C++11-ABI builds in 2.7). A user's
//! `LIBTORCH_CXX11_ABI`, which torch-sys honours, is honoured here too.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-env-changed=LIBTORCH_INCLUDE");
    println!("cargo:rerun-if-changed=src/graph.cpp");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not export DEP_TCH_LIBTORCH_LIB; nnopt needs tch's libtorch (run scripts/setup.sh)");
    };
    let lib_dir = Path::new(&lib_dir);
    let lib_dir = lib_dir.canonicalize().unwrap_or_else(|_| lib_dir.to_path_buf());
    let root = match std::env::var_os("LIBTORCH_INCLUDE") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => lib_dir.parent().unwrap_or(&lib_dir).to_path_buf(),
    };
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    cc::Build::new()
        .cpp(true)
        .file("src/graph.cpp")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false)
        .compile("nnopt_graph");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    // libtorch_cuda.so is not linked: src/cuda.rs loads it at start-up only where a CUDA
    // driver exists, which spares CPU runs ~350 MiB and ~0.1 s. It looks here first.
    println!("cargo:rustc-env=NNOPT_LIBTORCH_LIB={}", lib_dir.display());
}

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
//!
//! And it builds `src/cuda_graph.cpp` (CUDA graphs, see `src/cuda_graph.rs`) as a shared library
//! of its own, which the binary embeds and loads only after libtorch_cuda.so: it needs CUDA's
//! headers — beside the pip torch in `nvidia/cu13/include` (plus `nvidia-cuda-crt`, which
//! `scripts/setup.sh` installs), or `NNOPT_CUDA_INCLUDE` — and where they are missing nnopt is
//! built without CUDA graphs (`--cuda-graphs on` then says so).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-env-changed=LIBTORCH_INCLUDE");
    println!("cargo:rerun-if-changed=src/graph.cpp");
    println!("cargo:rerun-if-changed=src/cuda_graph.cpp");
    println!("cargo:rerun-if-changed=src/ffi_guard.h");
    println!("cargo:rerun-if-env-changed=NNOPT_CUDA_INCLUDE");
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
    build_cuda_graph_shim(&root, &lib_dir, &abi);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    // libtorch_cuda.so is not linked: src/cuda.rs loads it at start-up only where a CUDA
    // driver exists, which spares CPU runs ~350 MiB and ~0.1 s. It looks here first.
    println!("cargo:rustc-env=NNOPT_LIBTORCH_LIB={}", lib_dir.display());
}

/// Compiles `src/cuda_graph.cpp` into `$OUT_DIR/libnnopt_cuda_graph.so`, or leaves an empty file
/// there (with a warning) where CUDA's headers or a compiler are missing: the binary embeds
/// whatever is there, and an empty one means "built without CUDA graphs".
fn build_cuda_graph_shim(root: &Path, lib_dir: &Path, abi: &str) {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.join("libnnopt_cuda_graph.so");
    let _ = std::fs::write(&target, b"");
    // The pip torch keeps CUDA beside it: site-packages/{torch, nvidia/cu13}.
    let nvidia = root.parent().map(|p| p.join("nvidia/cu13"));
    let include = match std::env::var_os("NNOPT_CUDA_INCLUDE") {
        Some(dir) => Some(std::path::PathBuf::from(dir)),
        None => nvidia.as_ref().map(|n| n.join("include")),
    };
    // Watched where they exist (cargo reruns a build script on every build for a watched path
    // that does not); where they were missing, scripts/setup.sh touches src/cuda_graph.cpp once
    // it has installed them, so the next build has graphs.
    for header in include.iter().flat_map(|i| [i.join("cuda_runtime_api.h"), i.join("crt/host_config.h")]) {
        if header.exists() {
            println!("cargo:rerun-if-changed={}", header.display());
        }
    }
    let Some(include) =
        include.filter(|i| i.join("cuda_runtime_api.h").exists() && i.join("crt/host_config.h").exists())
    else {
        println!(
            "cargo:warning=CUDA headers (cuda_runtime_api.h, crt/host_config.h) not found: nnopt is built without CUDA graphs (run scripts/setup.sh, or set NNOPT_CUDA_INCLUDE)"
        );
        return;
    };
    let fused = compile_fused_sgd(nvidia.as_deref(), &include, &out);
    let compiler = cc::Build::new().cpp(true).get_compiler();
    let mut command = compiler.to_command();
    command
        .args(["-shared", "-fPIC", "-O2", "-std=c++17", "-w"])
        .arg(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("include/torch/csrc/api/include"))
        .arg("-I")
        .arg(&include)
        .arg("src/cuda_graph.cpp")
        .args(fused.iter().flat_map(|object| [std::ffi::OsString::from("-DNNOPT_FUSED_SGD"), object.into()]))
        .arg("-o")
        .arg(&target)
        .arg("-L")
        .arg(lib_dir)
        .args(["-ltorch_cuda", "-lc10_cuda", "-ltorch_cpu", "-lc10"]);
    // libcudart's soname, so the loader finds the copy libtorch_cuda already loaded.
    if let Some(cuda_lib) = nvidia.map(|n| n.join("lib")).filter(|l| l.join("libcudart.so.13").exists()) {
        command.arg("-L").arg(cuda_lib).arg("-l:libcudart.so.13");
    }
    match command.status() {
        Ok(status) if status.success() => {}
        outcome => {
            let _ = std::fs::write(&target, b"");
            println!("cargo:warning=compiling src/cuda_graph.cpp failed ({outcome:?}): nnopt is built without CUDA graphs");
        }
    }
}

/// Compiles `src/fused_sgd.cu` (the fused SGD kernels) with nvcc — the pip package
/// `nvidia-cuda-nvcc` beside the pip torch, which `scripts/setup.sh` installs, or `NNOPT_NVCC` —
/// into an object for the shim: machine code for the A100 (sm_80) and the H100/H200 (sm_90), and
/// PTX from sm_75 up that the driver compiles for any other GPU libtorch 2.11 supports. Returns
/// the object, or `None` (with a warning) where nvcc is missing or fails: the shim is then built
/// without the kernels and the unfused update runs.
fn compile_fused_sgd(nvidia: Option<&Path>, include: &Path, out: &Path) -> Option<std::path::PathBuf> {
    println!("cargo:rerun-if-changed=src/fused_sgd.cu");
    println!("cargo:rerun-if-env-changed=NNOPT_NVCC");
    let nvcc = match std::env::var_os("NNOPT_NVCC") {
        Some(path) => std::path::PathBuf::from(path),
        None => nvidia?.join("bin/nvcc"),
    };
    if !nvcc.exists() {
        println!(
            "cargo:warning=nvcc not found ({}): nnopt is built without the fused SGD kernels (run scripts/setup.sh, or set NNOPT_NVCC)",
            nvcc.display()
        );
        return None;
    }
    println!("cargo:rerun-if-changed={}", nvcc.display());
    let object = out.join("fused_sgd.o");
    let status = std::process::Command::new(&nvcc)
        .args(["-c", "-O3", "-Xcompiler", "-fPIC", "-std=c++17"])
        .args(["-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90"])
        .args(["-gencode", "arch=compute_75,code=compute_75"])
        .arg("-I")
        .arg(include)
        .arg("src/fused_sgd.cu")
        .arg("-o")
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => Some(object),
        outcome => {
            println!("cargo:warning=compiling src/fused_sgd.cu failed ({outcome:?}): nnopt is built without the fused SGD kernels");
            None
        }
    }
}

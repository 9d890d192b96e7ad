//! Makes the `nnopt` binaries find libtorch at run time and see CUDA.
//!
//! torch-sys links libtorch but leaves finding it at run time to the user (`LD_LIBRARY_PATH`).
//! It exports its lib dir to direct dependents as `DEP_TCH_LIBTORCH_LIB` (its `links` key is
//! `tch`), so we embed that directory as an rpath. We also keep `libtorch_cuda.so` in the
//! binary's needed list: nothing references its symbols directly, so `--as-needed` would drop
//! it, and without it loaded libtorch reports CUDA as unavailable even on a GPU machine.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib_dir = Path::new(&lib_dir);
    let lib_dir = lib_dir.canonicalize().unwrap_or_else(|_| lib_dir.to_path_buf());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}

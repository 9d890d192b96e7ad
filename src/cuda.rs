//! Loading libtorch's CUDA half only where it can be used.
//!
//! libtorch registers its CUDA backend when `libtorch_cuda.so` is loaded; if it is not in the
//! process before the first device query, libtorch reports no GPU. Linking it into every binary
//! costs a CPU-only run ~350 MiB and ~0.1 s of start-up for nothing, so nnopt does not link it:
//! [`load`] dlopens it (RTLD_GLOBAL, so its static initializers register CUDA with libtorch) when
//! the NVIDIA driver library `libcuda.so.1` can be loaded, and never otherwise. Every entry point
//! calls it before touching a device: `main`, the examples, and the tests' CUDA helpers.

use std::ffi::CString;
use std::sync::OnceLock;

/// What [`load`] found, for `nnopt info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CudaLibrary {
    /// libtorch_cuda.so is loaded: libtorch can see GPUs.
    Loaded,
    /// No CUDA driver on this machine: libtorch_cuda.so was not loaded (CPU only).
    NoDriver,
    /// A driver exists but libtorch_cuda.so could not be loaded (a CPU-only libtorch, or a
    /// broken install); the message says why.
    Failed,
}

static STATE: OnceLock<(CudaLibrary, Option<String>)> = OnceLock::new();

fn dlopen(name: &str, flags: i32) -> Result<*mut libc::c_void, String> {
    let cname = CString::new(name).map_err(|_| format!("{name}: not a library name"))?;
    // Safety: a NUL-terminated name and valid flags; the handle is never closed, so whatever
    // the library registered stays valid for the whole process.
    let handle = unsafe { libc::dlopen(cname.as_ptr(), flags) };
    if handle.is_null() {
        // Safety: dlerror returns null or a NUL-terminated message valid until the next dl call.
        let message = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        Err(message)
    } else {
        Ok(handle)
    }
}

/// Whether the NVIDIA driver's library can be loaded: the one condition for loading CUDA.
pub fn driver_present() -> bool {
    dlopen("libcuda.so.1", libc::RTLD_LAZY | libc::RTLD_LOCAL).is_ok()
}

/// Loads libtorch_cuda.so where a CUDA driver exists (once; later calls return the first answer).
/// Call it first thing: libtorch decides once per process, at its first CUDA question (a
/// `manual_seed` asks one), whether CUDA exists.
pub fn load() -> CudaLibrary {
    STATE
        .get_or_init(|| {
            if !driver_present() {
                return (CudaLibrary::NoDriver, None);
            }
            // Beside the libtorch_cpu.so this process runs (so the two halves always match),
            // then where this binary was built against, then the loader's search path.
            let mut places: Vec<String> = loaded_library_dir("libtorch_cpu.so")
                .map(|dir| format!("{}/libtorch_cuda.so", dir.display()))
                .into_iter()
                .collect();
            places.push(format!("{}/libtorch_cuda.so", env!("NNOPT_LIBTORCH_LIB")));
            places.push("libtorch_cuda.so".to_string());
            let mut errors = Vec::new();
            for place in places {
                match dlopen(&place, libc::RTLD_NOW | libc::RTLD_GLOBAL) {
                    Ok(_) => return (CudaLibrary::Loaded, None),
                    Err(message) => errors.push(message),
                }
            }
            (CudaLibrary::Failed, Some(errors.join("; ")))
        })
        .0
}

/// Why loading failed, when it did.
pub fn load_error() -> Option<String> {
    STATE.get().and_then(|s| s.1.clone())
}

/// The directory a shared library was mapped from, read from `/proc/self/maps` (Linux): where
/// the CUDA half must come from, and what `nnopt info` reports.
pub(crate) fn loaded_library_dir(name: &str) -> Option<std::path::PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| std::path::Path::new(path).file_name().is_some_and(|f| f == name))
        .and_then(|path| std::path::Path::new(path).parent().map(std::path::Path::to_path_buf))
}

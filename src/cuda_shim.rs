//! The CUDA shim: nnopt's C++ and CUDA code that needs libtorch_cuda — CUDA graphs
//! (`src/cuda_graph.cpp`, see [`crate::cuda_graph`]) and the fused SGD kernels
//! (`src/fused_sgd.cu`, see [`crate::fused`]).
//!
//! nnopt never links libtorch_cuda (CPU runs stay free of CUDA, see [`crate::cuda`]), so the shim
//! is a shared library of its own, embedded in this binary — `cargo install` copies one file — and
//! loaded from memory (`memfd_create`) only once libtorch_cuda.so is in the process.

use std::ffi::{c_char, c_double, c_int, c_void, CString};
use std::sync::OnceLock;

use anyhow::{bail, Result};

/// The shim, as build.rs compiled it; empty where CUDA's headers were missing at build time.
static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libnnopt_cuda_graph.so"));

pub(crate) type Status = c_int;
pub(crate) type Enter = unsafe extern "C" fn(c_int, *mut *mut c_void, *mut *mut c_char) -> Status;
pub(crate) type New = unsafe extern "C" fn(*mut *mut c_void, *mut *mut c_char) -> Status;
pub(crate) type Call = unsafe extern "C" fn(*mut c_void, *mut *mut c_char) -> Status;
pub(crate) type Free = unsafe extern "C" fn(*mut c_void);
pub(crate) type FreeString = unsafe extern "C" fn(*mut c_char);

/// `nnopt_sgd_flat(param, grad, velocity, weight_decay, momentum, lr, nesterov, first, error)`.
pub(crate) type SgdFlat = unsafe extern "C" fn(
    *mut c_void,
    *mut c_void,
    *mut c_void,
    c_double,
    c_double,
    c_double,
    c_int,
    c_int,
    *mut *mut c_char,
) -> Status;
/// `nnopt_sgd_stack(flat, grad, velocity, lr, mu, lambda, active, error)`.
pub(crate) type SgdStack = unsafe extern "C" fn(
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut *mut c_char,
) -> Status;

pub(crate) struct Api {
    pub stream_enter: Enter,
    pub stream_leave: Call,
    pub new: New,
    pub capture_begin: Call,
    pub capture_end: Call,
    pub replay: Call,
    pub free: Free,
    /// After a failed capture: stop routing the stream's allocations to the graph's pool.
    pub abandon: Free,
    free_string: FreeString,
    /// The fused SGD kernels: `None` where the shim was built without nvcc.
    pub sgd_flat: Option<SgdFlat>,
    pub sgd_stack: Option<SgdStack>,
}

static API: OnceLock<std::result::Result<Api, String>> = OnceLock::new();

/// Whether this binary carries the CUDA shim (it was built with CUDA's headers).
pub fn built_in() -> bool {
    !SHIM.is_empty()
}

/// Loads the shim now (once per process), for a caller that wants to know before it starts —
/// a sweep, whose trials would otherwise each find out alone.
pub fn load_shim() -> Result<()> {
    api().map(drop)
}

pub(crate) fn api() -> Result<&'static Api> {
    API.get_or_init(load).as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Loads the embedded shim: written to an anonymous file and dlopened from /proc/self/fd.
fn load() -> std::result::Result<Api, String> {
    if !built_in() {
        return Err("this nnopt was built without CUDA graphs (CUDA's headers were missing at build \
                    time: run scripts/setup.sh and rebuild)"
            .into());
    }
    if crate::cuda::load() != crate::cuda::CudaLibrary::Loaded {
        return Err("CUDA graphs need libtorch's CUDA library, which is not loaded (see nnopt info)".into());
    }
    // A literal without NUL: CString::new cannot fail.
    let name = CString::new("nnopt_cuda_graph").expect("no NUL in the name");
    // MFD_EXEC: where the kernel makes memfds non-executable by default (vm.memfd_noexec = 1),
    // this asks for an executable one; a kernel older than the flag refuses it (EINVAL), and
    // there memfds are executable anyway.
    // Safety: a valid NUL-terminated name and flags; the fd is ours alone.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_EXEC) };
    if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // Safety: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    }
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // Safety: the fd was just created and is owned here (closed when `file` drops, after dlopen).
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    std::io::Write::write_all(&mut file, SHIM).map_err(|e| format!("writing the CUDA shim: {e}"))?;
    // Digits and slashes only: CString::new cannot fail.
    let path = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a path");
    // Safety: dlopen of a complete shared object; the handle is never closed, so the functions
    // below stay valid for the process's life.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    drop(file);
    if handle.is_null() {
        // Safety: dlerror returns null or a NUL-terminated message.
        let e = unsafe { libc::dlerror() };
        let message = if e.is_null() {
            "unknown error".to_string()
        } else {
            // Safety: non-null, NUL-terminated, valid until the next dl call.
            unsafe { std::ffi::CStr::from_ptr(e) }.to_string_lossy().into_owned()
        };
        return Err(format!("loading the CUDA shim: {message}"));
    }
    let symbol = |name: &str| -> std::result::Result<*mut c_void, String> {
        // Our own symbol names, literals below: CString::new cannot fail.
        let cname = CString::new(name).expect("no NUL in a symbol");
        // Safety: a live handle and a NUL-terminated name.
        let f = unsafe { libc::dlsym(handle, cname.as_ptr()) };
        if f.is_null() {
            Err(format!("the CUDA shim lacks {name}"))
        } else {
            Ok(f)
        }
    };
    // Safety: each symbol is the extern "C" function of the same signature in cuda_graph.cpp.
    unsafe {
        Ok(Api {
            stream_enter: std::mem::transmute::<*mut c_void, Enter>(symbol("nnopt_cg_stream_enter")?),
            stream_leave: std::mem::transmute::<*mut c_void, Call>(symbol("nnopt_cg_stream_leave")?),
            new: std::mem::transmute::<*mut c_void, New>(symbol("nnopt_cg_new")?),
            capture_begin: std::mem::transmute::<*mut c_void, Call>(symbol("nnopt_cg_capture_begin")?),
            capture_end: std::mem::transmute::<*mut c_void, Call>(symbol("nnopt_cg_capture_end")?),
            replay: std::mem::transmute::<*mut c_void, Call>(symbol("nnopt_cg_replay")?),
            free: std::mem::transmute::<*mut c_void, Free>(symbol("nnopt_cg_free")?),
            abandon: std::mem::transmute::<*mut c_void, Free>(symbol("nnopt_cg_abandon")?),
            free_string: std::mem::transmute::<*mut c_void, FreeString>(symbol("nnopt_cg_free_string")?),
            // Exported only by a shim built with nvcc (build.rs): absent, not an error.
            sgd_flat: symbol("nnopt_sgd_flat").ok().map(|f| std::mem::transmute::<*mut c_void, SgdFlat>(f)),
            sgd_stack: symbol("nnopt_sgd_stack")
                .ok()
                .map(|f| std::mem::transmute::<*mut c_void, SgdStack>(f)),
        })
    }
}

/// Calls a shim function; its error message becomes the error.
pub(crate) fn check(api: &Api, what: &str, call: impl FnOnce(*mut *mut c_char) -> Status) -> Result<()> {
    let mut error: *mut c_char = std::ptr::null_mut();
    if call(&mut error) == 0 {
        return Ok(());
    }
    let message = if error.is_null() {
        "unknown error".to_string()
    } else {
        // Safety: the shim returns a malloc'd NUL-terminated string, freed right after.
        let m = unsafe { std::ffi::CStr::from_ptr(error) }.to_string_lossy().into_owned();
        // Safety: allocated by the shim's strdup.
        unsafe { (api.free_string)(error) };
        m
    };
    bail!("{what}: {}", message.lines().next().unwrap_or("unknown error"))
}

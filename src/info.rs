//! `nnopt info`: what a user needs when set-up goes wrong — which libtorch this binary loaded,
//! from where, and which accelerators it can see.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The facts `nnopt info` reports.
#[derive(Debug, Serialize)]
pub struct Info {
    pub nnopt_version: String,
    /// libtorch's version as its install records it (`2.11.0+cu130`); `None` if not found.
    pub libtorch_version: Option<String>,
    /// The directory `libtorch_cpu.so` was loaded from.
    pub libtorch_path: Option<PathBuf>,
    /// Whether libtorch_cuda.so was loaded (only where a CUDA driver exists).
    pub cuda_library: crate::cuda::CudaLibrary,
    /// Why loading it failed, where it did.
    pub cuda_library_error: Option<String>,
    pub cuda_available: bool,
    pub cuda_device_count: i64,
    /// GPU model names as the NVIDIA driver reports them, where it does.
    pub cuda_devices: Vec<String>,
    pub cudnn_available: bool,
    /// Whether this binary carries the CUDA-graph shim (built with CUDA's headers).
    pub cuda_graphs_built_in: bool,
    /// Whether SGD's update runs as one fused kernel on the first GPU ([`crate::fused`]); absent
    /// without a GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused_sgd: Option<FusedSgd>,
    pub mps_available: bool,
    pub cpu_threads: i32,
}

/// Whether one network's SGD update runs fused on a GPU, and why not where it does not.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FusedSgd {
    pub fused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// Gathers [`Info`] from the running process and libtorch.
pub fn collect() -> Info {
    crate::cuda::load();
    let libtorch_path = crate::cuda::loaded_library_dir("libtorch_cpu.so");
    let cuda_available = tch::Cuda::is_available();
    Info {
        nnopt_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version: libtorch_path.as_deref().and_then(libtorch_version),
        libtorch_path,
        cuda_library: crate::cuda::load(),
        cuda_library_error: crate::cuda::load_error(),
        cuda_available,
        cuda_device_count: tch::Cuda::device_count(),
        cuda_devices: if cuda_available { nvidia_gpu_names() } else { Vec::new() },
        // Asking libtorch about cuDNN without CUDA raises; only ask where CUDA is present.
        cudnn_available: cuda_available && tch::Cuda::cudnn_is_available(),
        cuda_graphs_built_in: crate::cuda_shim::built_in(),
        fused_sgd: cuda_available.then(|| match crate::fused::status(tch::Device::Cuda(0)) {
            Ok(()) => FusedSgd { fused: true, why_not: None },
            Err(why) => FusedSgd { fused: false, why_not: Some(why) },
        }),
        mps_available: tch::utils::has_mps(),
        cpu_threads: tch::get_num_threads(),
    }
}

/// libtorch records its version beside `lib/`: `build-version` in the libtorch zip,
/// `version.py` (`__version__ = '2.11.0+cu130'`) in the PyTorch wheel.
fn libtorch_version(lib_dir: &Path) -> Option<String> {
    let root = lib_dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("build-version")) {
        return Some(text.trim().to_string());
    }
    let text = std::fs::read_to_string(root.join("version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    Some(line.split('=').nth(1)?.trim().trim_matches(['\'', '"']).to_string())
}

/// GPU names from the NVIDIA driver's `/proc` files; empty where the driver does not expose them.
fn nvidia_gpu_names() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return Vec::new();
    };
    let mut gpus: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("information")).ok()?;
            let model = text.lines().find_map(|l| l.strip_prefix("Model:"))?.trim().to_string();
            Some((entry.file_name().to_string_lossy().into_owned(), model))
        })
        .collect();
    // Bus ids sort in the order CUDA numbers devices by default (PCI bus order).
    gpus.sort();
    gpus.into_iter().map(|(_, model)| model).collect()
}

/// The text `nnopt info` prints.
pub fn render(info: &Info) -> String {
    let unknown = || "unknown".to_string();
    let cuda = if info.cuda_available {
        let names = if info.cuda_devices.is_empty() {
            String::new()
        } else {
            format!(": {}", info.cuda_devices.join(", "))
        };
        format!("available, {} device(s){names}", info.cuda_device_count)
    } else {
        "not available (run on the CPU: --device cpu)".to_string()
    };
    let yes_no = |b: bool| if b { "available" } else { "not available" };
    let library = match info.cuda_library {
        crate::cuda::CudaLibrary::Loaded => "libtorch_cuda.so loaded".to_string(),
        crate::cuda::CudaLibrary::NoDriver => {
            "libtorch_cuda.so not loaded (no CUDA driver on this machine)".to_string()
        }
        crate::cuda::CudaLibrary::Failed => format!(
            "libtorch_cuda.so failed to load: {}",
            info.cuda_library_error.clone().unwrap_or_else(unknown)
        ),
    };
    let graphs = if info.cuda_graphs_built_in {
        "CUDA graphs built in (train and sweep replay their steps on CUDA)"
    } else {
        "no CUDA graphs in this build (CUDA's headers were missing; run scripts/setup.sh and rebuild)"
    };
    let fused = match &info.fused_sgd {
        None => String::new(),
        Some(FusedSgd { fused: true, .. }) => {
            "\n            SGD's update fused into one kernel (checked against libtorch's SGD on this GPU)"
                .into()
        }
        Some(FusedSgd { why_not, .. }) => {
            format!("\n            SGD's update unfused: {}", why_not.as_deref().unwrap_or("unknown"))
        }
    };
    format!(
        "nnopt       {}\nlibtorch    {}\nloaded from {}\nCUDA        {cuda}\n            {library}\n            {graphs}{fused}\ncuDNN       {}\nMPS         {}\nCPU threads {}\n",
        info.nnopt_version,
        info.libtorch_version.clone().unwrap_or_else(unknown),
        info.libtorch_path.as_ref().map_or_else(unknown, |p| p.display().to_string()),
        yes_no(info.cudnn_available),
        yes_no(info.mps_available),
        info.cpu_threads,
    )
}

impl crate::report::Report for Info {
    fn text(&self) -> String {
        render(self)
    }
}

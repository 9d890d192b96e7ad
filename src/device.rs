//! `--device`: the one place that turns a user's device choice into a `tch::Device`.
//!
//! `auto` picks CUDA 0 when libtorch sees a GPU, else the CPU. An explicit `cuda`, `cuda:N` or
//! `mps` that this machine cannot provide is a usage error naming what *is* available — never a
//! silent fallback to the CPU, which would make a GPU benchmark quietly measure the wrong thing.

use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device};

use crate::error::usage;

/// What the user asked for with `--device`, before checking this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// CUDA 0 if available, else CPU.
    #[default]
    Auto,
    Cpu,
    /// `cuda` (index `None`, meaning 0) or `cuda:N`.
    Cuda(Option<usize>),
    Mps,
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(None)),
            "mps" => Ok(DeviceSpec::Mps),
            _ => match lower.strip_prefix("cuda:") {
                Some(index) => index
                    .parse::<usize>()
                    .map(|i| DeviceSpec::Cuda(Some(i)))
                    .map_err(|_| format!("'{text}': the CUDA index must be a number, as in cuda:0")),
                None => Err(format!("'{text}' is not a device; use auto, cpu, cuda, cuda:N or mps")),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(None) => f.write_str("cuda"),
            DeviceSpec::Cuda(Some(i)) => write!(f, "cuda:{i}"),
            DeviceSpec::Mps => f.write_str("mps"),
        }
    }
}

impl DeviceSpec {
    /// Resolves the choice against this machine; an unavailable device is a usage error.
    pub fn resolve(self) -> anyhow::Result<Device> {
        // libtorch sees CUDA only once libtorch_cuda.so is loaded (a no-op after the first call).
        crate::cuda::load();
        let count = usize::try_from(Cuda::device_count()).unwrap_or(0);
        match self {
            DeviceSpec::Auto if count > 0 => Ok(Device::Cuda(0)),
            DeviceSpec::Auto | DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(index) => {
                let index = index.unwrap_or(0);
                if count == 0 {
                    Err(usage(format!(
                        "--device {self}: CUDA is not available on this machine (libtorch sees no GPU); \
                         run with --device cpu, or see `nnopt info`"
                    )))
                } else if index >= count {
                    Err(usage(format!(
                        "--device {self}: this machine has {count} CUDA device(s), cuda:0 to cuda:{}",
                        count - 1
                    )))
                } else {
                    Ok(Device::Cuda(index))
                }
            }
            DeviceSpec::Mps if tch::utils::has_mps() => Ok(Device::Mps),
            DeviceSpec::Mps => Err(usage(format!(
                "--device mps: this libtorch has no MPS (Apple GPU) support; run with --device {}",
                if count > 0 { "cuda" } else { "cpu" }
            ))),
        }
    }
}

/// Makes `device` usable: for a CUDA device, loads libtorch's CUDA half first (once per
/// process). Every entry point of the library calls it, so a program using nnopt never has to
/// remember to. (libtorch decides at its first CUDA question whether CUDA exists: a program that
/// asks libtorch about CUDA itself before any nnopt call should call [`crate::cuda::load`] first.)
pub fn prepare(device: Device) {
    if device.is_cuda() {
        crate::cuda::load();
    }
}

/// The name PyTorch gives a device (`cpu`, `cuda:0`, `mps`), used in text and JSON output.
pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
    }
}

/// The device [`name`] names: how a report, which keeps the name, finds it again.
pub fn from_name(name: &str) -> Option<Device> {
    match name {
        "cpu" => Some(Device::Cpu),
        "mps" => Some(Device::Mps),
        "vulkan" => Some(Device::Vulkan),
        cuda => cuda.strip_prefix("cuda:")?.parse().ok().map(Device::Cuda),
    }
}

/// `--threads`' default: the physical cores this process may use. libtorch's own default
/// counts logical CPUs on some builds, and two hyperthreads of one core only contend for its
/// vector units in sgemm. Read from sysfs (distinct package/core pairs), bounded by what the
/// process is allowed to run on (`available_parallelism` follows affinity and cgroup quotas).
pub fn physical_cores() -> usize {
    let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cores = std::collections::HashSet::new();
    if let Ok(entries) = std::fs::read_dir("/sys/devices/system/cpu") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name
                .strip_prefix("cpu")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            {
                continue;
            }
            let read = |file: &str| std::fs::read_to_string(entry.path().join("topology").join(file)).ok();
            if let (Some(package), Some(core)) = (read("physical_package_id"), read("core_id")) {
                cores.insert((package.trim().to_string(), core.trim().to_string()));
            }
        }
    }
    if cores.is_empty() {
        allowed
    } else {
        cores.len().min(allowed).max(1)
    }
}

/// Applies `--threads`: libtorch's intra-op thread count, before any parallel work.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<usize> {
    let n = threads.unwrap_or_else(physical_cores);
    if !(1..=1024).contains(&n) {
        return Err(usage(format!("--threads must be between 1 and 1024, got {n}")));
    }
    tch::set_num_threads(n as i32);
    Ok(n)
}

//! The `--device` parser and its availability checks.

use nnopt::device::DeviceSpec;
use nnopt::error::exit_code;
use tch::Device;

#[test]
fn parses_every_form() {
    assert_eq!("auto".parse(), Ok(DeviceSpec::Auto));
    assert_eq!("CPU".parse(), Ok(DeviceSpec::Cpu));
    assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(None)));
    assert_eq!("cuda:3".parse(), Ok(DeviceSpec::Cuda(Some(3))));
    assert_eq!("mps".parse(), Ok(DeviceSpec::Mps));
}

#[test]
fn rejects_nonsense_with_the_accepted_forms() {
    let err = "tpu".parse::<DeviceSpec>().unwrap_err();
    assert!(err.contains("auto, cpu, cuda, cuda:N or mps"), "{err}");
    let err = "cuda:x".parse::<DeviceSpec>().unwrap_err();
    assert!(err.contains("cuda:0"), "{err}");
    assert!("cuda:-1".parse::<DeviceSpec>().is_err());
}

#[test]
fn display_round_trips() {
    for text in ["auto", "cpu", "cuda", "cuda:2", "mps"] {
        assert_eq!(text.parse::<DeviceSpec>().unwrap().to_string(), text);
    }
}

#[test]
fn cpu_always_resolves_and_auto_follows_cuda() {
    assert_eq!(DeviceSpec::Cpu.resolve().unwrap(), Device::Cpu);
    let expected = if crate::common::has_cuda() { Device::Cuda(0) } else { Device::Cpu };
    assert_eq!(DeviceSpec::Auto.resolve().unwrap(), expected);
}

#[test]
fn a_missing_gpu_is_a_usage_error() {
    let count = {
        crate::common::has_cuda();
        tch::Cuda::device_count() as usize
    };
    let err = DeviceSpec::Cuda(Some(count)).resolve().unwrap_err();
    assert_eq!(exit_code(&err), 2);
    assert!(err.to_string().contains("CUDA"), "{err}");
    assert!(err.to_string().contains(&format!("--device cuda:{count}")), "{err}");
}

#[test]
fn cuda_resolves_where_a_gpu_exists() {
    if !crate::common::cuda_or_skip("cuda_resolves_where_a_gpu_exists") {
        return;
    }
    assert_eq!(DeviceSpec::Cuda(None).resolve().unwrap(), Device::Cuda(0));
}

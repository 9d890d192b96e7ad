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

#[test]
fn gpu_check_compares_numbers_not_the_device_string() {
    // What scripts/gpu-check.sh compares on a GPU machine, faked here: the same run with
    // "device": "cuda:0" and PyTorch's `device='cuda:0'` inside the printed tensors.
    let dir = crate::common::scratch("compare_devices");
    let cpu =
        serde_json::json!({"device": "cpu", "text": "tensor([1.5000])", "loss": 0.25, "xs": [1.0, 2.0]});
    let cuda = serde_json::json!({"device": "cuda:0", "text": "tensor([1.5000], device='cuda:0')", "loss": 0.2500001, "xs": [1.0, 2.0]});
    let (a, b) = (dir.join("cuda.json"), dir.join("cpu.json"));
    std::fs::write(&a, cuda.to_string()).unwrap();
    std::fs::write(&b, cpu.to_string()).unwrap();
    let compare = |extra: &[&str]| {
        std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/reference/compare.py"))
            .args([a.to_str().unwrap(), b.to_str().unwrap(), "--tol", "1e-6"])
            .args(extra)
            .output()
            .expect("python3 runs (scripts/setup.sh needs it too)")
    };
    let strict = compare(&[]);
    assert_eq!(strict.status.code(), Some(1), "a plain comparison sees the device differ");
    let agnostic = compare(&["--device-agnostic"]);
    let said = String::from_utf8_lossy(&agnostic.stdout);
    assert_eq!(agnostic.status.code(), Some(0), "{said}");
    assert!(
        said.contains("3 numbers compared, max |diff| = 1e-07"),
        "the largest difference is reported: {said}"
    );
    // A real difference still fails, devices aside.
    let mut worse = cuda.clone();
    worse["xs"][1] = serde_json::json!(2.1);
    std::fs::write(&a, worse.to_string()).unwrap();
    assert_eq!(compare(&["--device-agnostic"]).status.code(), Some(1));
    worse["xs"][1] = serde_json::json!(2.0);
    worse["text"] = serde_json::json!("tensor([9.9000], device='cuda:0')");
    std::fs::write(&a, worse.to_string()).unwrap();
    assert_eq!(compare(&["--device-agnostic"]).status.code(), Some(1), "text beyond the device still counts");
}

//! The command line as users meet it: help, exit codes, clean errors.

use crate::common::{nnopt, nnopt_json, nnopt_ok};

#[test]
fn verify_cli() {
    // The binary is a debug build here, where clap checks every command's definition as it
    // builds it (what `Command::debug_assert` does): asking each one for help builds them all.
    let commands = [
        "tour",
        "info",
        "autograd",
        "perceptron",
        "mlp",
        "descent",
        "train",
        "sweep",
        "evaluate",
        "predict",
        "glossary",
        "completions",
    ];
    for command in commands {
        let out = nnopt(&[command, "--help"]);
        assert!(out.status.success(), "{command} --help: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(nnopt(&["--help"]).status.success());
}

#[test]
fn every_command_has_help() {
    for command in ["info", "autograd", "perceptron", "mlp", "train", "evaluate", "predict"] {
        let out = nnopt(&[command, "--help"]);
        assert!(out.status.success(), "{command} --help failed");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("--device") && help.contains("--json"),
            "{command} --help lacks the global flags:\n{help}"
        );
    }
}

#[test]
fn missing_cuda_is_exit_2_naming_cuda() {
    if crate::common::has_cuda() {
        eprintln!("SKIPPED missing_cuda_is_exit_2_naming_cuda: this machine has CUDA");
        return;
    }
    for command in ["autograd", "perceptron", "mlp", "train"] {
        let out = nnopt(&["--device", "cuda", command]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("CUDA is not available") && stderr.contains("--device cpu"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn an_unknown_device_is_a_usage_error() {
    let out = nnopt(&["--device", "tpu", "autograd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auto, cpu, cuda, cuda:N or mps"));
}

#[test]
fn info_reports_libtorch_2_11() {
    let info = nnopt_json(&["info", "--json"]);
    let version = info["libtorch_version"].as_str().expect("libtorch version found");
    assert!(version.starts_with("2.11.0"), "{version}");
    assert!(info["libtorch_path"].as_str().is_some_and(|p| p.ends_with("lib")), "{info}");
    assert_eq!(info["cuda_available"], crate::common::has_cuda());
    assert!(info["cpu_threads"].as_i64().unwrap() >= 1);
}

#[test]
fn cuda_is_loaded_only_where_a_driver_exists() {
    // The binary does not link libtorch_cuda.so (it costs a CPU run ~350 MiB)…
    let elf = std::process::Command::new("readelf").args(["-d", env!("CARGO_BIN_EXE_nnopt")]).output();
    match elf {
        Ok(out) => {
            let dynamic = String::from_utf8_lossy(&out.stdout);
            assert!(dynamic.contains("libtorch_cpu.so"), "{dynamic}");
            assert!(!dynamic.contains("libtorch_cuda.so"), "libtorch_cuda.so is linked:\n{dynamic}");
        }
        Err(e) => eprintln!("SKIPPED the NEEDED check: readelf is not installed ({e})"),
    }
    // …and loads it at start-up exactly where a CUDA driver is present.
    let driver = nnopt::cuda::driver_present();
    let info = nnopt_json(&["info", "--json"]);
    let loaded = info["cuda_library"].as_str().unwrap().to_string();
    if driver {
        assert_eq!(loaded, "loaded", "{info}");
    } else {
        assert_eq!(loaded, "no-driver", "{info}");
    }
    let text = nnopt_json(&["--json", "info"]);
    assert_eq!(text["cuda_available"], loaded == "loaded" && text["cuda_device_count"].as_i64().unwrap() > 0);
    // What the process really mapped, not what it says of itself: a running nnopt's
    // /proc/PID/maps holds libtorch_cpu.so, and libtorch_cuda.so exactly where a driver is.
    let child = crate::common::nnopt_command(&[
        "--device",
        "cpu",
        "train",
        "--data",
        "synthetic:2000,200",
        "--epochs",
        "1000",
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut child = crate::common::KillOnDrop(child);
    // Its first line ("loading …") comes after start-up, where CUDA is loaded or not.
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.0.stderr.take().unwrap()), &mut first)
        .unwrap();
    assert!(first.starts_with("loading"), "{first}");
    let maps_path = format!("/proc/{}/maps", child.0.id());
    let maps = std::fs::read_to_string(&maps_path).unwrap_or_default();
    drop(child);
    assert!(maps.contains("libtorch_cpu.so"), "libtorch never showed up in {maps_path}");
    assert_eq!(maps.contains("libtorch_cuda.so"), driver, "libtorch_cuda.so mapped: {}", !driver);
    // Training syncs with the host every batch on the CPU, every 64 on CUDA (no GPU needed to
    // ask which).
    assert_eq!(nnopt::train::default_sync_every(tch::Device::Cpu), 1);
    assert_eq!(nnopt::train::default_sync_every(tch::Device::Cuda(0)), 64);
}

/// `nnopt glossary`: every entry of docs/glossary.md, one by any of its names, and an unknown
/// term a usage error offering the near ones; `--json` carries the same entries.
#[test]
fn the_glossary_explains_its_terms_from_one_source() {
    let all = nnopt_json(&["glossary", "--json"]);
    let entries = all["entries"].as_array().unwrap();
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/glossary.md")).unwrap();
    assert_eq!(entries.len(), page.lines().filter(|l| l.starts_with("## ")).count());
    let one = nnopt_json(&["glossary", "HALVING", "--json"]);
    assert_eq!(one["entries"][0]["term"], "successive halving");
    // The backward graph's nodes the notebook prints (named here, not in src/).
    for node in ["AddmmBackward0", "addmm", "TBackward0", "AccumulateGrad", "ReluBackward0"] {
        let entry = nnopt_json(&["glossary", node, "--json"]);
        assert!(entry["entries"][0]["text"].as_str().unwrap().len() > 60, "{node}");
    }
    let out = nnopt(&["glossary", "backward"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ReluBackward0") && stderr.lines().count() == 1, "{stderr}");
}

/// `--code` prints the PyTorch and tch programs behind the numbers — the files CI runs
/// (scripts/reference/code_check.py, from scripts/parity.sh, finds nnopt's numbers in what
/// they print) — above the run's own output; with `--json`, as the document's `code`.
#[test]
fn code_shows_the_programs_ci_runs_beside_the_numbers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (command, name) in [("perceptron", "perceptron"), ("autograd", "autograd"), ("mlp", "mlp")] {
        let text = nnopt_ok(&["--device", "cpu", command, "--code"]);
        for file in [format!("examples/pytorch/{name}.py"), format!("examples/tch_{name}.rs")] {
            let source = std::fs::read_to_string(root.join(&file)).unwrap();
            assert!(text.contains(source.trim_end()), "{command} --code does not show {file}");
        }
        // The run's own output follows the code.
        let (code_end, run) = text.split_once("below, what nnopt prints for it.").expect("the code's footer");
        assert!(code_end.contains("── tch (Rust)") && !run.trim().is_empty(), "{command}");
        let v = nnopt_json(&["--device", "cpu", "--json", command, "--code"]);
        assert_eq!(v["code"]["pytorch"]["path"], format!("examples/pytorch/{name}.py"));
        assert_eq!(v["code"]["tch"]["path"], format!("examples/tch_{name}.rs"));
        assert!(v["code"]["tch"]["run"].as_str().unwrap().starts_with("cargo run --release --example tch_"));
    }
    // The seed given is the seed the run commands pass.
    let text = nnopt_ok(&["--device", "cpu", "perceptron", "--seed", "3", "--code"]);
    assert!(
        text.contains("python3 examples/pytorch/perceptron.py 3")
            && text.contains("`nnopt perceptron --seed 3`")
    );
    // A run whose settings are not the programs' says which, and that its numbers are not theirs.
    let text = nnopt_ok(&["--device", "cpu", "mlp", "--code", "--lr", "0.3", "--hidden", "100"]);
    assert!(
        text.contains("this run sets --lr 0.3, --hidden 100 otherwise, so the numbers below are not theirs")
    );
    let v = nnopt_json(&["--device", "cpu", "--json", "autograd", "--code", "--w", "2"]);
    assert_eq!(v["code_differs"], serde_json::json!(["--w 2"]));
    // Without --code, no code.
    assert!(nnopt_json(&["--device", "cpu", "--json", "autograd"]).get("code").is_none());
}

//! Helpers shared by the test modules: running the real binary, reading goldens.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// libtorch has one random generator per process. Every test that seeds it or draws from it
/// (in this process; the binary runs in its own) holds this lock, or parallel test threads
/// interleave their draws and get other numbers.
static TORCH_RNG: Mutex<()> = Mutex::new(());

/// Takes the generator lock for the rest of the test (a test that failed holding it poisons
/// it; the next one goes on, the generator is reseeded anyway).
pub fn torch_rng() -> MutexGuard<'static, ()> {
    // In this process too, libtorch works with 2 threads, as the children do (see
    // `nnopt_command`): its default, one per core, would put 16 × 16 threads on a 16-core machine.
    static THREADS: std::sync::Once = std::sync::Once::new();
    THREADS.call_once(|| tch::set_num_threads(2));
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `nnopt` binary with `args`, ready to run as a user would: without `RUST_BACKTRACE`,
/// which turns the panic hook's one-line report back into Rust's default.
///
/// Unless `args` choose otherwise, it runs on the CPU with 2 threads. On the CPU because a
/// test that is not about CUDA must not land on a GPU under `--device auto` (16 processes
/// sharing one card); with 2 threads because the goldens were made on a 2-core machine, and a
/// libtorch reduction split over another number of threads may round differently — and 16
/// test processes of 16 threads each would crowd a 16-core machine to a crawl.
pub fn nnopt_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nnopt"));
    if !args.contains(&"--device") {
        command.args(["--device", "cpu"]);
    }
    if !args.iter().any(|a| a.starts_with("--threads")) {
        command.args(["--threads", "2"]);
    }
    command.args(args).env_remove("RUST_BACKTRACE");
    command
}

/// Runs the `nnopt` binary with `args` ([`nnopt_command`]).
pub fn nnopt(args: &[&str]) -> Output {
    nnopt_command(args).output().expect("the nnopt binary runs")
}

/// Runs `nnopt` expecting success; returns stdout.
pub fn nnopt_ok(args: &[&str]) -> String {
    let out = nnopt(args);
    assert!(out.status.success(), "nnopt {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Asserts that `nnopt ARGS` is a one-line usage error (exit 2) naming `flag`, with no panic.
pub fn assert_usage_error(args: &[&str], flag: &str) {
    let out = nnopt(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(flag) && !stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
}

/// Runs `nnopt --json …` and parses its stdout as one JSON document.
pub fn nnopt_json(args: &[&str]) -> serde_json::Value {
    let stdout = nnopt_ok(args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("nnopt {args:?} printed invalid JSON ({e}):\n{stdout}"))
}

/// A golden file under tests/goldens/, parsed.
pub fn golden(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/goldens").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden files are JSON")
}

/// Asserts that nnopt's JSON `ours` matches the golden file `name` within the issues' 1e-6,
/// relative: |Δ| ≤ 1e-6 · max(|golden|, 1) for every number.
///
/// Not bit equality: goldens made on one CPU are read on others, whose BLAS kernels may round a
/// matmul differently. Live, on one machine, scripts/parity.sh demands bit equality.
pub fn assert_matches_golden(ours: &serde_json::Value, name: &str) {
    assert_matches_golden_within(ours, name, 1e-6);
}

/// [`assert_matches_golden`] to a relative `tolerance` of one's own.
pub fn assert_matches_golden_within(ours: &serde_json::Value, name: &str, tolerance: f64) {
    let diff = max_abs_diff(ours, &golden(name), "$");
    assert!(diff <= tolerance, "{name}: max relative |Δ| = {diff}");
}

/// How far the perceptron's 101 epochs may drift from goldens made on another CPU. The goldens
/// come from this project's machine (AMD EPYC); on an H200 machine's host CPU, libtorch's BLAS
/// rounds the products x·w in the last bit differently, and 1 010 updates carry that to 4.8e-6
/// relative (measured there, `scripts/gpu-check.sh` with the test binary). On one machine
/// nnopt and PyTorch agree bit for bit (`scripts/parity.sh` runs both).
pub const PERCEPTRON_ACROSS_CPUS: f64 = 1e-5;

/// The largest |ours − reference| / max(|reference|, 1) over every number in `reference`,
/// which must appear at the same place in `ours` (keys only `ours` has are ignored). Relative,
/// so 1e-6 is one part in a million near 70 as near 0.5 (an absolute 1e-6 there is one ulp).
pub fn max_abs_diff(ours: &serde_json::Value, reference: &serde_json::Value, path: &str) -> f64 {
    use serde_json::Value;
    match (ours, reference) {
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .map(|(k, v)| {
                let mine = a.get(k).unwrap_or_else(|| panic!("{path}.{k} missing from nnopt's output"));
                max_abs_diff(mine, v, &format!("{path}.{k}"))
            })
            .fold(0.0, f64::max),
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: lengths differ");
            a.iter()
                .zip(b)
                .enumerate()
                .map(|(i, (x, y))| max_abs_diff(x, y, &format!("{path}[{i}]")))
                .fold(0.0, f64::max)
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().expect("finite"), b.as_f64().expect("finite"));
            (a - b).abs() / b.abs().max(1.0)
        }
        (a, b) => {
            assert_eq!(a, b, "{path} differs");
            0.0
        }
    }
}

/// Whether libtorch sees a GPU, after loading its CUDA library as `main` does.
pub fn has_cuda() -> bool {
    nnopt::cuda::load();
    tch::Cuda::is_available()
}

/// Whether libtorch sees a GPU; tests that need one print why they skip.
pub fn cuda_or_skip(test: &str) -> bool {
    if has_cuda() {
        true
    } else {
        eprintln!("SKIPPED {test}: no CUDA device on this machine (tch::Cuda::is_available() is false)");
        false
    }
}

/// A fresh, empty scratch directory for one test, under cargo's target tmp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Debian's Fashion-MNIST, or `None` with the reason printed: a plain `cargo test` without the
/// data set skips those tests; scripts/test (and so CI) installs it, so CI runs them.
pub fn fashion_dir(test: &str) -> Option<&'static str> {
    let dir = nnopt::data::FASHION_DIR;
    if std::path::Path::new(dir).join("train-images-idx3-ubyte.gz").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {test}: Fashion-MNIST is missing at {dir} (apt-get install dataset-fashion-mnist, or scripts/setup-data.sh)");
        None
    }
}

/// A child process killed (and reaped) when the test ends, even by a failed assertion: a
/// long training run must not outlive the test that started it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

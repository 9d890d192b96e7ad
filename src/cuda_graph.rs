//! A training step captured once as a CUDA graph and replayed for every batch.
//!
//! At the default batch size a step is about 30 small kernels, and on a GPU launching them one
//! by one costs far more than running them. libtorch's `at::cuda::CUDAGraph` records the kernels a
//! step launches (capture, on a side stream, into a private memory pool) and launches them all
//! again with one call (replay) — the same kernels in the same order on the same addresses, so
//! the same numbers. Everything the step reads must therefore live at fixed addresses: the
//! batch's indices are copied into one static tensor before each replay, the parameters, their
//! gradients and the optimizer's state stay where they are, and a value baked into a kernel's
//! arguments (SGD's learning rate) means capturing again when it changes.
//!
//! The C++ side (`src/cuda_graph.cpp`) is part of the CUDA shim ([`crate::cuda_shim`]), loaded
//! only once libtorch_cuda.so is in the process.

use std::ffi::{c_int, c_void};

use anyhow::{bail, Result};
use tch::{Device, Tensor};

use crate::cuda_shim::{api, check};
use crate::error::torch;

/// How many eager steps run before a capture: whatever a first step creates (the momentum
/// buffer, cuBLAS's workspace on the side stream) must exist before it, as PyTorch's own
/// recipe warms up on the capture stream first.
pub const WARMUP_STEPS: usize = 3;

/// A side stream made current on a CUDA device for as long as this lives (graphs cannot be
/// captured on the default stream); dropping it waits for the device and restores the stream.
pub struct SideStream {
    saved: *mut c_void,
}

impl SideStream {
    pub fn enter(device: Device) -> Result<Self> {
        let Device::Cuda(index) = device else { bail!("CUDA graphs need a CUDA device, not {device:?}") };
        let api = api()?;
        let mut saved = std::ptr::null_mut();
        // Safety: valid out-pointers; the shim stores a heap stream in `saved` on success.
        check(api, "switching to a side stream", |e| unsafe {
            (api.stream_enter)(index as c_int, &mut saved, e)
        })?;
        Ok(SideStream { saved })
    }
}

impl Drop for SideStream {
    fn drop(&mut self) {
        if let Ok(api) = api() {
            // Safety: `saved` came from stream_enter and is freed by this one call.
            let _ = check(api, "restoring the stream", |e| unsafe { (api.stream_leave)(self.saved, e) });
        }
    }
}

/// Where a run that may use graphs starts: the side stream, or `None` to run eagerly. The
/// default (`requested` = `None`) falls back to eager CUDA with a warning when the shim cannot be
/// loaded; an explicit `--cuda-graphs on` fails instead, naming the flag and the way out.
pub fn start(
    graphs: bool,
    requested: Option<bool>,
    device: Device,
    observer: &dyn crate::observe::Observer,
) -> Result<Option<SideStream>> {
    if !graphs {
        return Ok(None);
    }
    match SideStream::enter(device) {
        Ok(stream) => Ok(Some(stream)),
        Err(e) if requested.is_none() => {
            observer.warn(&format!(
                "CUDA graphs are unavailable ({e:#}); training eagerly (--cuda-graphs off hides this)"
            ));
            Ok(None)
        }
        Err(e) => Err(e.context("--cuda-graphs on: CUDA graphs cannot run here; use --cuda-graphs off")),
    }
}

/// One captured CUDA graph.
struct Graph {
    ptr: *mut c_void,
}

impl Graph {
    /// Captures what `body` launches on the current (side) stream; nothing runs until a replay.
    fn capture<T>(body: impl FnOnce() -> Result<T>) -> Result<(Self, T)> {
        let api = api()?;
        let mut ptr = std::ptr::null_mut();
        // Safety: a valid out-pointer.
        check(api, "creating a CUDA graph", |e| unsafe { (api.new)(&mut ptr, e) })?;
        let graph = Graph { ptr };
        // Safety: a live graph.
        check(api, "starting the capture", |e| unsafe { (api.capture_begin)(graph.ptr, e) })?;
        let result = body();
        // The capture is ended even when the body failed (the stream must leave capture mode).
        // Safety: a live graph in capture.
        let ended = check(api, "ending the capture", |e| unsafe { (api.capture_end)(graph.ptr, e) });
        match (result, ended) {
            (Ok(value), Ok(())) => Ok((graph, value)),
            (result, ended) => {
                // libtorch 2.11 may leave the allocator routing to the failed graph's pool, and
                // destroying the graph would then release a pool the allocator still uses: end
                // the routing and leak the graph (one per failed run).
                // Safety: a live graph whose capture has ended, never used again.
                unsafe { (api.abandon)(graph.ptr) };
                std::mem::forget(graph);
                Err(result.err().or(ended.err()).expect("one of the two failed"))
            }
        }
    }

    fn replay(&self) -> Result<()> {
        let api = api()?;
        // Safety: a live, instantiated graph.
        check(api, "replaying the CUDA graph", |e| unsafe { (api.replay)(self.ptr, e) })
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        if let Ok(api) = api() {
            // Safety: the pointer came from `new` and is freed once.
            unsafe { (api.free)(self.ptr) }
        }
    }
}

/// The training step of a run: eager for its first [`WARMUP_STEPS`] batches, then captured
/// once per batch shape (the full batches, the epoch's last, shorter one) and `key` (the values
/// baked into the step, such as SGD's learning rate) and replayed. A shape is first captured
/// only after it ran eagerly with that key once: a last batch whose rate changes every epoch
/// (the cosine schedule) is never worth a capture.
#[derive(Default)]
pub struct GraphedStep {
    warmed: usize,
    shapes: Vec<Shape>,
    /// Steps captured, and replays run: what the report and the benchmark check.
    pub captures: usize,
    pub replays: usize,
    /// Why capturing failed, when it did: every later step then runs eagerly.
    pub failure: Option<String>,
}

/// One batch shape's graph.
struct Shape {
    size: Vec<i64>,
    /// The indices the captured step gathers its batch with: each batch's are copied in.
    indices: Tensor,
    /// The last key this shape ran eagerly with.
    eager_key: Option<u64>,
    /// The graph, the key it was captured for, and the loss tensor its replays write.
    graph: Option<(Graph, u64, Tensor)>,
}

impl GraphedStep {
    /// Runs `step` on the batch `indices` selects and returns its loss, a tensor of its own.
    /// `step` must launch the same work every time for the same shape and `key`, and must not
    /// read anything back to the host.
    pub fn run(
        &mut self,
        indices: &Tensor,
        key: u64,
        mut step: impl FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        // A capture that failed once fails again (each failed one leaks its graph and pool):
        // later runs in this process — a sweep's next trials — go eager from the start.
        if self.failure.is_none() && CAPTURE_FAILED.load(std::sync::atomic::Ordering::SeqCst) {
            self.failure = Some("a capture failed earlier in this process".to_string());
        }
        if self.failure.is_some() {
            return step(indices);
        }
        let size = indices.size();
        let at = match self.shapes.iter().position(|s| s.size == size) {
            Some(at) => at,
            None => {
                let indices = indices.f_detach_copy().map_err(torch)?;
                self.shapes.push(Shape { size, indices, eager_key: None, graph: None });
                self.shapes.len() - 1
            }
        };
        let shape = &mut self.shapes[at];
        let action = next_action(shape.graph.as_ref().map(|(_, k, _)| *k), shape.eager_key, self.warmed, key);
        if action == Action::Eager {
            ran_eagerly(&mut self.warmed, &mut shape.eager_key, key);
            return step(indices);
        }
        shape.indices.f_copy_(indices).map_err(torch)?;
        if action == Action::Capture {
            // The old graph (and its memory pool) goes before the new one is captured.
            shape.graph = None;
            let fixed = shape.indices.shallow_clone();
            let inject = std::env::var_os(FAIL_CAPTURE).is_some();
            match Graph::capture(|| {
                step(&fixed).and_then(|loss| uncapturable(inject, fixed.device()).map(|()| loss))
            }) {
                Ok((graph, loss)) => {
                    shape.graph = Some((graph, key, loss));
                    self.captures += 1;
                }
                Err(e) => {
                    // Nothing captured ran. Every graph goes (their pools with them); the caller
                    // sees [`CaptureFailed`], leaves the side stream and takes the step eagerly
                    // on the default stream, as every later one.
                    self.failure = Some(format!("{e:#}"));
                    CAPTURE_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
                    self.shapes.clear();
                    return Err(CaptureFailed.into());
                }
            }
        }
        // Replay: the graph of this key exists; capture: set just above (a failure returned).
        let (graph, _, loss) = shape.graph.as_ref().expect("captured above");
        // A replay that fails may have run part of the step: the weights cannot be trusted, and
        // the run stops with the error (the side stream is left as the run unwinds).
        graph.replay().map_err(|e| {
            e.context("CUDA graphs: replaying the training step failed; run again with --cuda-graphs off")
        })?;
        self.replays += 1;
        loss.f_detach_copy().map_err(torch)
    }
}

/// Whether a capture failed in this process.
static CAPTURE_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set by a test (never by a user) to make the next capture fail: the step then reads a value
/// back to the host, which a stream in capture refuses. The failure path runs on a GPU as it
/// would after a real failure.
pub const FAIL_CAPTURE: &str = "NNOPT_TEST_FAIL_CAPTURE";

/// What [`FAIL_CAPTURE`] injects: a copy to the host inside the capture.
fn uncapturable(inject: bool, device: Device) -> Result<()> {
    if inject {
        let on_device = Tensor::f_zeros([1], (tch::Kind::Float, device)).map_err(torch)?;
        let _on_host = on_device.f_to_device(Device::Cpu).map_err(torch)?;
    }
    Ok(())
}

/// The error [`GraphedStep::run`] returns when a capture failed: the caller leaves the side
/// stream and runs the same step again, eagerly.
#[derive(Debug)]
pub struct CaptureFailed;

impl std::fmt::Display for CaptureFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("capturing the training step as a CUDA graph failed")
    }
}

impl std::error::Error for CaptureFailed {}

/// Whether `err` is a failed capture (the run goes on eagerly) rather than a failed step.
pub fn capture_failed(err: &anyhow::Error) -> bool {
    err.is::<CaptureFailed>()
}

/// Whether `graphed` replayed its steps with no capture failing; a failure is warned about
/// (the run went on eagerly). What a run's report says, for one network or a population.
pub fn replayed(graphed: Option<&GraphedStep>, observer: &dyn crate::observe::Observer) -> bool {
    let Some(g) = graphed else { return false };
    if let Some(why) = &g.failure {
        observer.warn(&format!("CUDA graphs failed ({why}); training went on eagerly"));
    }
    g.replays > 0 && g.failure.is_none()
}

/// What [`GraphedStep::run`] does with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Eager,
    Capture,
    Replay,
}

/// The policy, for a batch of a shape whose graph was captured for `captured` (if any), that last
/// ran eagerly with `eager`, after `warmed` eager steps in all: replay a graph of this key;
/// capture again at once a shape captured before (the full batches under the cosine schedule);
/// capture a shape for the first time only after the warm-up and an eager run with this key.
fn next_action(captured: Option<u64>, eager: Option<u64>, warmed: usize, key: u64) -> Action {
    match captured {
        Some(k) if k == key => Action::Replay,
        Some(_) => Action::Capture,
        None if warmed >= WARMUP_STEPS && eager == Some(key) => Action::Capture,
        None => Action::Eager,
    }
}

/// What an eager step changes in the policy's state: one more warm-up step, and the key this
/// shape last ran with.
fn ran_eagerly(warmed: &mut usize, eager_key: &mut Option<u64>, key: u64) {
    *warmed += 1;
    *eager_key = Some(key);
}

/// Whether a run replays its step as a CUDA graph: `requested` is `--cuda-graphs` (`None`: the
/// default, on wherever it can be). Asking for graphs where they cannot run is a usage error
/// naming the flag, never a silent fallback.
pub fn wanted(requested: Option<bool>, device: Device, sgd: bool, built_in: bool) -> Result<bool> {
    use crate::error::usage;
    match requested {
        Some(false) => Ok(false),
        None => Ok(device.is_cuda() && sgd && built_in),
        Some(true) if !device.is_cuda() => Err(usage(
            "--cuda-graphs on needs --device cuda (graphs replay GPU kernels); drop it or use --device cuda",
        )),
        Some(true) if !sgd => Err(usage(
            "--cuda-graphs on needs --optimizer sgd: Adam's bias correction changes with every step, \
             so one captured step cannot be replayed; drop --cuda-graphs or use --optimizer sgd",
        )),
        Some(true) if !built_in => Err(usage(
            "--cuda-graphs on: this nnopt was built without CUDA graphs (CUDA's headers were missing at \
             build time: run scripts/setup.sh and rebuild); use --cuda-graphs off",
        )),
        Some(true) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of 5 full batches per epoch and a last, shorter one, under a rate that changes
    /// every epoch (cosine) and one that does not (constant).
    #[test]
    fn steps_warm_up_then_capture_once_per_rate_and_replay() {
        let simulate = |keys: &[u64]| {
            let (mut full, mut last) = ((None, None), (None, None));
            let mut warmed = 0;
            let mut actions = Vec::new();
            for &key in keys {
                for b in 0..6 {
                    let shape: &mut (Option<u64>, Option<u64>) = if b < 5 { &mut full } else { &mut last };
                    let action = next_action(shape.0, shape.1, warmed, key);
                    // What `GraphedStep::run` does to its state for each action.
                    match action {
                        Action::Eager => ran_eagerly(&mut warmed, &mut shape.1, key),
                        Action::Capture => shape.0 = Some(key),
                        Action::Replay => {}
                    }
                    actions.push(match action {
                        Action::Eager => 'e',
                        Action::Capture => 'c',
                        Action::Replay => 'r',
                    });
                }
                actions.push('|');
            }
            actions.into_iter().collect::<String>()
        };
        // The first epoch warms up (3 eager steps) and captures the full batch; the cosine
        // schedule recaptures it each epoch and leaves the last batch eager; a constant rate
        // captures the last batch in the second epoch and then only replays.
        assert_eq!(simulate(&[1, 2, 3]), "eeecre|crrrre|crrrre|");
        assert_eq!(simulate(&[7, 7, 7]), "eeecre|rrrrrc|rrrrrr|");
    }

    #[test]
    fn graphs_run_by_default_only_where_they_can_and_asking_elsewhere_is_an_error() {
        let cuda = Device::Cuda(0);
        assert!(wanted(None, cuda, true, true).unwrap());
        assert!(!wanted(None, Device::Cpu, true, true).unwrap());
        assert!(!wanted(None, cuda, false, true).unwrap(), "Adam is never graphed by default");
        assert!(!wanted(None, cuda, true, false).unwrap(), "a binary without the shim runs eagerly");
        assert!(!wanted(Some(false), cuda, true, true).unwrap());
        for (device, sgd, built, flag) in [
            (Device::Cpu, true, true, "--device cuda"),
            (cuda, false, true, "--optimizer sgd"),
            (cuda, true, false, "rebuild"),
        ] {
            let e = wanted(Some(true), device, sgd, built).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{e}");
            assert!(e.to_string().contains(flag), "{e}");
        }
    }
}

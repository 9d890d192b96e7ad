//! nnopt: the notebook "Introduction to neural networks optimization" as a Rust library (and
//! the `nnopt` CLI) on libtorch (tch 0.24 = PyTorch 2.11.0), with the same numbers PyTorch
//! gives for the same seed.
//!
//! The library prints nothing and installs no handler: long runs report through an
//! [`observe::Observer`] (no-op by default, [`observe::Quiet`]), every command's result is a
//! typed [`report::Report`] (serde for JSON, its text, optional CSV and figure), and CUDA is
//! prepared by each entry point that is given a CUDA device. The `nnopt` binary's own parts —
//! the command line, printing, signals, the panic hook — sit behind the default `cli` feature; a
//! program using the library can turn it off (`default-features = false`).
//!
//! The modules, in the notebook's order:
//! 1. [`perceptron`]: part 1, a regressor trained by the delta rule written by hand.
//! 2. [`autograd`]: part 2, gradients of relu(w·x + b) through `torch.autograd.grad`, and
//!    [`graph`]: the autograd graph read from libtorch.
//! 3. [`mlp`]: part 3, an `nn::Module` MLP, backpropagation and one SGD step.
//! 4. [`descent`]: the notebook's opening claim — optimizers trapped in and escaping local
//!    minima on surfaces small enough to see, with every update rule written out.
//! 5. [`sweep`]: "gridsearch, hyperopt, optuna, NAS" — grid, random, TPE and successive
//!    halving over real training runs, and what their trials can support saying.
//! 6. [`train`]: the MLP trained on real images ([`population`]: several at once, one batched
//!    network, for sweeps) ([`data`]: IDX files, Fashion-MNIST, synthetic
//!    digits; [`metrics`]: loss, accuracy, confusion), [`weights`] on disk (safetensors, with
//!    [`provenance`]: what they were trained on), [`classify`]: evaluate and predict with them.
//!
//! [`judge`] holds every verdict those parts print about a run, each tested against what the
//! run really did.
//!
//! [`tour`] is the syllabus of `nnopt tour`: the parts above in the notebook's order, each with
//! what to notice, its rule and its command.
//!
//! [`flat`] keeps a network's parameters and gradients in one buffer each, so SGD's update is a
//! few kernels for the whole network, and [`backprop`] writes the backward pass out for it:
//! autograd's kernels and numbers, without recording or walking a graph.
//!
//! Entry points seed libtorch's random generator, of which a process has one: two threads
//! running them at once would interleave their draws. Each holds [`exclusive`]'s process-wide
//! lock while it runs, so concurrent calls run one after the other, with the numbers each gives
//! alone. [`fused`] and the [`cuda_shim`] hold the CUDA code: SGD's update as one kernel, CUDA
//! graphs.
//!
//! And what every part shares: [`device`] (`--device`, CUDA availability, [`cuda`]: loading
//! libtorch's CUDA half), [`repr`] (tensors printed exactly as PyTorch prints them), [`plot`]
//! (pictures), [`report`] and [`observe`] (how results and progress leave the library),
//! [`fsutil`] (atomic writes), [`error`] (usage errors and exit codes), [`info`] (which
//! libtorch, which GPUs), [`glossary`] (the words the output uses, from `docs/glossary.md`).
//!
//! Training a network and scoring it, through the library alone:
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use nnopt::data::{load, DataSource};
//! use nnopt::observe::Quiet;
//! use nnopt::train::{train, Hooks, TrainConfig};
//!
//! let data = load(&DataSource::Synthetic { train: 600, test: 100 })?;
//! let config = TrainConfig { epochs: 1, ..Default::default() };
//! let never = AtomicBool::new(false);
//! let mut hooks = Hooks { observer: &Quiet, stop: &never, on_epoch: &mut |_| Ok(()) };
//! let trained = train(&config, &data, tch::Device::Cpu, &mut hooks)?;
//! assert_eq!(trained.report.epochs.len(), 1);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod autograd;
pub mod backprop;
pub mod brute;
pub mod classify;
pub mod code;
pub mod cuda;
pub mod cuda_graph;
pub mod cuda_shim;
pub mod data;
pub mod depth;
pub mod descent;
pub mod device;
pub mod error;
pub mod exclusive;
pub mod flat;
pub mod fsutil;
pub mod fused;
pub mod glossary;
pub mod graph;
pub mod info;
pub mod judge;
pub mod lab;
pub mod metrics;
pub mod mlp;
pub mod observe;
pub mod perceptron;
pub mod plot;
pub mod population;
pub mod provenance;
pub mod report;
pub mod repr;
pub mod sweep;
pub mod text;
pub mod tour;
pub mod train;
pub mod weights;

/// libtorch has one random generator per process: the library's own tests that seed it and
/// draw hold this lock, so parallel test threads cannot interleave their draws.
#[cfg(test)]
pub(crate) fn test_rng() -> std::sync::MutexGuard<'static, ()> {
    static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A CUDA device for a unit test that needs one, or `None` after printing why the test skips.
#[cfg(test)]
pub(crate) fn test_cuda(test: &str) -> Option<tch::Device> {
    cuda::load();
    if tch::Cuda::is_available() {
        Some(tch::Device::Cuda(0))
    } else {
        // Library code has no print macros (scripts/test checks); a test's stderr is its own.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "SKIPPED {test}: no CUDA device on this machine (tch::Cuda::is_available() is false)\n"
            ),
        );
        None
    }
}

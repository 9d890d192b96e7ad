//! nnopt's one integration test binary (every test binary links libtorch, so there is one).
//!
//! Golden values come from the PyTorch reference scripts under `scripts/reference/`; each
//! assertion names the command that produced its goldens.

mod autograd;
mod bad_input;
mod cli;
mod common;
mod data;
mod depth;
mod descent;
mod device;
mod docs;
mod files;
mod graph;
mod lab;
mod lab_browser;
mod mlp;
mod perceptron;
mod plot;
mod population;
mod repr;
mod signals;
mod sweep;
mod tour;
mod train;
mod trust;
mod verdicts;

/// Loads libtorch's CUDA library before any test runs, as `main` does: libtorch decides once per
/// process whether CUDA exists, at its first CUDA question (a `manual_seed` asks one), and the
/// tests run in parallel from the start.
#[used]
#[link_section = ".init_array"]
static LOAD_CUDA_FIRST: extern "C" fn() = {
    extern "C" fn load() {
        nnopt::cuda::load();
    }
    load
};

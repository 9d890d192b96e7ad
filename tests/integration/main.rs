//! nnopt's one integration test binary (every test binary links libtorch, so there is one).
//!
//! Golden values come from the PyTorch reference scripts under `scripts/reference/`; each
//! assertion names the command that produced its goldens.

mod autograd;
mod bad_input;
mod cli;
mod common;
mod data;
mod descent;
mod device;
mod graph;
mod mlp;
mod perceptron;
mod plot;
mod repr;
mod sweep;
mod train;
mod trust;

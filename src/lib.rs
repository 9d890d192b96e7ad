//! nnopt: the notebook "Introduction to neural networks optimization" as a Rust library and
//! CLI on libtorch (tch 0.24 = PyTorch 2.11.0), with the same numbers PyTorch gives.
//!
//! - [`perceptron`]: notebook part 1, the delta rule written by hand.
//! - [`autograd`]: notebook part 2, gradients through `torch.autograd.grad`.
//! - [`mlp`]: notebook part 3, an `nn::Module` MLP, backpropagation and one SGD step.
//! - [`train`]: the MLP trained on real images ([`data`]: IDX files, synthetic digits),
//!   [`weights`] on disk (safetensors), [`classify`]: evaluate and predict with them.
//! - [`device`]: `--device` parsing and availability checks, shared by every command.
//! - [`repr`]: tensors printed exactly as PyTorch prints them.
//! - [`metrics`]: loss, accuracy and confusion matrix of a network on a data split.
//! - [`output`]: text vs `--json`, warnings and progress bars on stderr: how every command talks.
//! - [`info`]: which libtorch is loaded and which GPUs it sees.
//! - [`cli`]: the clap front end, mapped onto the plain config structs above.

pub mod autograd;
pub mod classify;
pub mod cuda;
pub mod data;
pub mod descent;
pub mod device;
pub mod error;
pub mod fsutil;
pub mod graph;
pub mod info;
pub mod metrics;
pub mod mlp;
pub mod observe;
pub mod perceptron;
pub mod plot;
pub mod provenance;
pub mod report;
pub mod repr;
pub mod sweep;
pub mod train;
pub mod weights;

//! The command line: clap types only, mapped onto the library's plain config structs.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::device::DeviceSpec;
use crate::output::Output;
use crate::{autograd, info};

/// nnopt — the notebook "Introduction to neural networks optimization" on libtorch, in Rust.
///
/// Each subcommand is one part of the notebook and prints what the notebook prints, with the
/// same numbers PyTorch gives for the same seed.
#[derive(Debug, Parser)]
#[command(name = "nnopt", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Where tensors live: auto (CUDA 0 if libtorch sees a GPU, else CPU), cpu, cuda, cuda:N, mps.
    /// A device that is not available is an error, never a silent fallback.
    #[arg(long, global = true, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceSpec,
    /// Print one JSON document on stdout and nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or diagnostics on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Versions, where libtorch was loaded from, and which GPUs libtorch sees.
    Info,
    /// Notebook part 2: a = relu(w·x + b) and its gradients through autograd (torch.autograd.grad).
    Autograd(AutogradArgs),
}

#[derive(Debug, Args)]
pub struct AutogradArgs {
    /// The input x.
    #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
    pub x: f64,
    /// The weight w (try --b -10 to see a zero gradient).
    #[arg(long, default_value_t = 1.2, allow_negative_numbers = true)]
    pub w: f64,
    /// The bias b.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub b: f64,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let out = Output { json: cli.global.json, quiet: cli.global.quiet };
    match cli.command {
        Command::Info => out.result(&info::collect(), info::render),
        Command::Autograd(args) => {
            let config = autograd::AutogradConfig { x: args.x, w: args.w, b: args.b };
            let report = autograd::run(&config, cli.global.device.resolve()?)?;
            out.result(&report, autograd::render)
        }
    }
}

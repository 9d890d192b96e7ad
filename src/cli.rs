//! The command line: clap types only, mapped onto the library's plain config structs.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::device::DeviceSpec;
use crate::output::Output;
use crate::{autograd, info, mlp, perceptron};

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
    /// Notebook part 1: a regressor perceptron trained by the delta rule, written by hand.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED). Unlike the
    /// notebook, w and b never require grad and are updated in place, so no autograd graph grows
    /// behind the updates: flat memory however long it trains.
    Perceptron(PerceptronArgs),
    /// Notebook part 3: an nn.Module-style MLP (784 → 32 → 10), backpropagation, one SGD step.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED): every random
    /// tensor is drawn on the CPU and then moved to --device, so all devices start alike.
    Mlp(MlpArgs),
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

#[derive(Debug, Args)]
pub struct PerceptronArgs {
    /// Seed for libtorch's generator (torch.manual_seed); draws w, then the training noise, then
    /// the test noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate of the delta rule.
    #[arg(long, default_value_t = 0.001, allow_negative_numbers = true)]
    pub lr: f64,
    /// Passes over the training set in all (the notebook: one train_step, then 100 epochs).
    #[arg(long, default_value_t = 101)]
    pub epochs: usize,
    /// Training samples N: X = arange(3N).reshape(N, 3) + N(0, 2) noise, y = arange(N).
    #[arg(long, default_value_t = 10)]
    pub samples: usize,
}

#[derive(Debug, Args)]
pub struct MlpArgs {
    /// Seed for libtorch's generator (torch.manual_seed); draws fc1.weight, fc1.bias, fc2.weight,
    /// fc2.bias, the input, the output gradient, the target, in that order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate of the SGD step.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub lr: f64,
    /// Width of the hidden layer.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
    pub hidden: i64,
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
        Command::Perceptron(args) => {
            let config = perceptron::PerceptronConfig {
                seed: args.seed,
                lr: args.lr,
                epochs: args.epochs,
                samples: args.samples,
            };
            config.validate()?;
            let device = cli.global.device.resolve()?;
            let report = perceptron::run(&config, device, &out.progress(config.epochs as u64, "epochs"))?;
            out.result(&report, |r| r.text.clone())
        }
        Command::Mlp(args) => {
            let config = mlp::MlpConfig { seed: args.seed, lr: args.lr, hidden: args.hidden };
            config.validate()?;
            let report = mlp::run(&config, cli.global.device.resolve()?)?;
            out.result(&report, |r| r.text.clone())
        }
    }
}

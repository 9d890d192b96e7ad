//! The command line, the binary's side of nnopt: clap types mapped onto the library's plain
//! config structs, and everything only a program does — printing ([`output`]), checking output
//! paths before work starts ([`paths`]), the panic hook ([`process`]) and signals ([`signals`]). `--json`,
//! `--csv` and `--plot` are handled once for every command ([`shared::emit`]); each subcommand has a
//! file of its own (its flags, the library call, its output), and this one only dispatches, through the library's
//! [`Report`] shape.

pub mod autograd;
pub mod brute;
pub mod classify;
pub mod completions;
pub mod depth;
pub mod descent;
pub mod lab;
pub mod mlp;
pub mod output;
pub mod paths;
pub mod perceptron;
pub mod process;
pub mod shared;
pub mod signals;
pub mod sweep;
pub mod tour;
pub mod train;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use nnopt::device::DeviceSpec;

use autograd::AutogradArgs;
use brute::BruteArgs;
use classify::{EvaluateArgs, PredictArgs};
use depth::DepthArgs;
use descent::DescentArgs;
use mlp::MlpArgs;
use output::Output;
use perceptron::PerceptronArgs;
use sweep::SweepArgs;
use train::TrainArgs;

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
    /// libtorch's CPU threads [default: the physical cores this process may use].
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The notebook from top to bottom: each part's idea, its rule, and its output, in order.
    ///
    /// Runs each part's own command (shown as `$ nnopt …`, to copy), small enough that the whole
    /// tour takes about 8 s on two idle cores (a minute or more on a busy machine). On a terminal it waits between parts (Enter to go
    /// on, q to stop); piped, it runs straight through.
    Tour(tour::TourArgs),
    /// Notebook part 1 (tour parts 2 and 3): a regressor perceptron trained by the delta rule, written by hand.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED). Unlike the
    /// notebook, w and b never require grad and are updated in place, so no autograd graph grows
    /// behind the updates: flat memory however long it trains.
    Perceptron(PerceptronArgs),
    /// Notebook part 2 (tour part 4): a = relu(w·x + b) and its gradients through autograd (torch.autograd.grad).
    Autograd(AutogradArgs),
    /// Notebook part 3 (tour part 5): an nn.Module-style MLP (784 → 32 → 10), backpropagation, one SGD step.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED): every random
    /// tensor is drawn on the CPU and then moved to --device, so all devices start alike.
    Mlp(MlpArgs),
    /// The notebook's first claim: a deep, narrow network is harder to train — measured.
    ///
    /// A shallow and a deep network train with plain SGD on the same data from the same seed;
    /// each layer's gradient size (the vanishing gradient), the units that never turn on, the
    /// loss against chance, and what helps (He initialisation, momentum, fewer layers).
    Depth(DepthArgs),
    /// Optimizers on loss surfaces: trapped in a local minimum, escaping it, diverging, stalling.
    ///
    /// Each surface is a libtorch expression differentiated by autograd (float64); gd is the
    /// notebook's hand-written rule, the others libtorch's optimizers. With no flags: on the
    /// cosine surface, gd stays in the local minimum where SGD with momentum reaches the global one.
    Descent(DescentArgs),
    /// The notebook's claim that brute force "is not viable": a search's cost against dimension.
    ///
    /// A grid, random search and gradient descent look for the minimum of a quadratic bowl of d
    /// dimensions; each counts its evaluations up to --cap, past which the count is computed.
    BruteForce(BruteArgs),
    /// Train the notebook's MLP on real images (minibatch SGD, cross-entropy), report each epoch.
    ///
    /// Without --data it trains on built-in synthetic digits (no download); --data fashion uses
    /// Debian's Fashion-MNIST; any directory of MNIST-layout IDX files (raw or .gz) works.
    /// Ctrl-C (or SIGTERM, SIGHUP) stops after the current batch, evaluates, saves if --save was
    /// given, and ends by that signal.
    Train(TrainArgs),
    /// Hyperparameter search over real training runs: grid, random, successive halving, TPE.
    ///
    /// Give a list (--lr 0.01,0.1) or a range (--lr 1e-3..1:log) for any of --lr, --momentum,
    /// --weight-decay, --batch-size, --hidden (32,64,256x128), --optimizer (sgd,adam). Trials are
    /// scored on a validation split of the training set; only the winner meets the test set.
    Sweep(SweepArgs),
    /// The notebook's optimization live in a browser: move a slider, watch the path change.
    ///
    /// A local web server (127.0.0.1) with four views computed by the same code as the commands:
    /// descent (pick a surface, click a start, drag lr and μ), the perceptron epoch by epoch,
    /// training (started, followed and stopped from the page), and a sweep's trials as they
    /// finish. Ctrl-C stops it; a run it started stops as Ctrl-C stops one, its work kept.
    Lab(lab::LabArgs),
    /// Accuracy and confusion matrix of saved weights on a data set's test split.
    Evaluate(EvaluateArgs),
    /// Classify one image with saved weights: a test image (--index) or a PGM/PNG file (--image).
    Predict(PredictArgs),
    /// The words nnopt's output uses, explained: every term, or one (`nnopt glossary momentum`).
    Glossary {
        /// The term to explain (any case; other names work too, e.g. lr, halving).
        term: Option<String>,
    },
    /// Versions, where libtorch was loaded from, and which GPUs libtorch sees.
    Info,
    /// Print a shell completion script: `nnopt completions bash > ~/.local/share/bash-completion/completions/nnopt`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the parsed command line: each command's own file maps its flags and calls the library.
pub fn run(cli: Cli) -> Result<()> {
    let out = &Output::new(cli.global.json, cli.global.quiet);
    nnopt::device::set_threads(cli.global.threads)?;
    let global = &cli.global;
    match cli.command {
        Command::Info => out.report(&nnopt::info::collect()),
        Command::Glossary { term } => out.report(&nnopt::glossary::lookup(term.as_deref())?),
        Command::Completions { shell } => completions::run(shell, out),
        Command::Autograd(args) => autograd::run(args, global, out),
        Command::Perceptron(args) => perceptron::run(args, global, out),
        Command::Mlp(args) => mlp::run(args, global, out),
        Command::Tour(args) => tour::run_tour(args, global, out),
        Command::Depth(args) => depth::run(args, global, out),
        Command::BruteForce(args) => brute::run(args, out),
        Command::Descent(args) => descent::run(args, global, out),
        Command::Train(args) => train::run(args, global, out),
        Command::Sweep(args) => sweep::run(args, global, out),
        Command::Lab(args) => lab::run(args, global, out),
        Command::Evaluate(args) => classify::evaluate(args, global, out),
        Command::Predict(args) => classify::predict(args, global, out),
    }
}

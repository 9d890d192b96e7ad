//! `nnopt perceptron`: its flags, the library call, the output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::perceptron::{self, PerceptronConfig};

use super::output::Output;
use super::paths::Claims;
use super::shared::{emit, Files};
use super::Global;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct PerceptronArgs {
    /// Seed for libtorch's generator (torch.manual_seed); draws w, then the training noise, then
    /// the test noise.
    #[arg(long, default_value_t = PerceptronConfig::default().seed)]
    pub seed: u64,
    /// Learning rate of the delta rule.
    #[arg(long, default_value_t = PerceptronConfig::default().lr)]
    pub lr: f64,
    /// Passes over the training set in all (the notebook: one train_step, then 100 epochs).
    #[arg(long, default_value_t = PerceptronConfig::default().epochs)]
    pub epochs: usize,
    /// Training samples N: X = arange(3N).reshape(N, 3) + N(0, 2) noise, y = arange(N).
    #[arg(long, default_value_t = PerceptronConfig::default().samples)]
    pub samples: usize,
    /// Print every Nth epoch's parameters and loss (and the first and last) [default: 10, or 1
    /// with --full]; --json, --csv and --plot keep every epoch.
    #[arg(long, value_name = "N")]
    pub every: Option<usize>,
    /// Print the notebook's whole transcript, every tensor as PyTorch prints it, instead of a
    /// screen's summary.
    #[arg(long)]
    pub full: bool,
    #[arg(long, help = super::shared::CODE_HELP)]
    pub code: bool,
    /// Also run the notebook's own form (w and b require grad, replaced out of place) and print
    /// how many autograd nodes pile up behind w after 1, 2, 10 and 100 updates.
    #[arg(long)]
    pub graph: bool,
    /// Draw the loss per epoch and the parameters per epoch (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write the loss and the parameters per epoch as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

/// `nnopt perceptron`.
pub fn run(args: PerceptronArgs, global: &Global, out: &Output) -> Result<()> {
    let config = config(&args);
    let files = Files::new(&mut Claims::default(), args.csv.as_deref(), args.plot.as_deref())?;
    let device = global.device.resolve()?;
    let programs = PerceptronConfig::default();
    let differs = super::shared::differing(&[
        ("--lr", config.lr, programs.lr),
        ("--epochs", config.epochs as f64, programs.epochs as f64),
        ("--samples", config.samples as f64, programs.samples as f64),
    ]);
    super::shared::show_code(args.code, (nnopt::code::Listing::Perceptron, args.seed), differs, out)?;
    let report = perceptron::run(&config, device, out)?;
    emit(&report, out, &files)?;
    out.chart("loss", &report.history.iter().map(|h| h.loss).collect::<Vec<_>>());
    Ok(())
}

/// The run `args` ask for: the command's and `nnopt lab`'s perceptron view's.
pub fn config(args: &PerceptronArgs) -> PerceptronConfig {
    PerceptronConfig {
        seed: args.seed,
        lr: args.lr,
        epochs: args.epochs,
        samples: args.samples,
        graph: args.graph,
        print_every: args.every.unwrap_or(if args.full { 1 } else { perceptron::SUMMARY_EVERY }),
        full: args.full,
    }
}

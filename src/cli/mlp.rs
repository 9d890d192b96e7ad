//! `nnopt mlp`: its flags, the library call, the output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::mlp::{self, MlpConfig};

use super::output::Output;
use super::paths::Claims;
use super::shared::{emit, Files, GraphArgs};
use super::Global;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct MlpArgs {
    /// Seed for libtorch's generator (torch.manual_seed); draws fc1.weight, fc1.bias, fc2.weight,
    /// fc2.bias, the input, the output gradient, the target, in that order.
    #[arg(long, default_value_t = MlpConfig::default().seed)]
    pub seed: u64,
    /// Learning rate of the SGD step.
    #[arg(long, default_value_t = MlpConfig::default().lr)]
    pub lr: f64,
    /// Width of the hidden layer.
    #[arg(long, default_value_t = MlpConfig::default().hidden)]
    pub hidden: i64,
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Print every tensor the notebook prints (fc1's weight matrix included) instead of a
    /// screen's summary.
    #[arg(long)]
    pub full: bool,
    #[arg(long, help = super::shared::CODE_HELP)]
    pub code: bool,
    /// Draw fc1's weight rows as 28×28 images, before and after the SGD step (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write fc1's weights before and after the SGD step as CSV (unit, pixel, before, after).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

/// `nnopt mlp`.
pub fn run(args: MlpArgs, global: &Global, out: &Output) -> Result<()> {
    let claims = &mut Claims::default();
    let graph = args.graph.wanted(claims)?;
    let config = MlpConfig { seed: args.seed, lr: args.lr, hidden: args.hidden, graph, full: args.full };
    let files = Files::new(claims, args.csv.as_deref(), args.plot.as_deref())?;
    let device = global.device.resolve()?;
    let programs = MlpConfig::default();
    let differs = super::shared::differing(&[
        ("--lr", config.lr, programs.lr),
        ("--hidden", config.hidden as f64, programs.hidden as f64),
    ]);
    super::shared::show_code(args.code, (nnopt::code::Listing::Mlp, args.seed), differs, out)?;
    let report = mlp::run(&config, device)?;
    args.graph.write(report.backward_graph.as_ref(), "the backward graph of the MLP's MSE loss", out)?;
    emit(&report, out, &files)
}

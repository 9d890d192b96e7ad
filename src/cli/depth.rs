//! `nnopt depth`: its flags, the library call, the output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::data::{self, DataSource};
use nnopt::depth::{self, DepthConfig};
use nnopt::observe::Observer;

use super::output::Output;
use super::paths::Claims;
use super::shared::{emit, Files, DATA_HELP};
use super::Global;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct DepthArgs {
    #[arg(long, default_value = nnopt::data::DEFAULT_SPEC, help = DATA_HELP)]
    pub data: String,
    /// Passes over the training set, for every network.
    #[arg(long, default_value_t = DepthConfig::default().epochs)]
    pub epochs: usize,
    /// Learning rate of plain SGD (the notebook's optimizer).
    #[arg(long, default_value_t = DepthConfig::default().lr)]
    pub lr: f64,
    /// Images per SGD step.
    #[arg(long = "batch-size", default_value_t = DepthConfig::default().batch)]
    pub batch: i64,
    /// Hidden layers of the deep network.
    #[arg(long, default_value_t = DepthConfig::default().layers)]
    pub layers: usize,
    /// Units in each of the deep network's hidden layers.
    #[arg(long, default_value_t = DepthConfig::default().width)]
    pub width: i64,
    /// Steps over which each layer's gradient size is averaged (from the first).
    #[arg(long, default_value_t = DepthConfig::default().probe_steps)]
    pub probe_steps: usize,
    /// Seed for libtorch's generator: every network starts from it.
    #[arg(long, default_value_t = DepthConfig::default().seed)]
    pub seed: u64,
    /// Train on the first N training images only (the normalization still uses all of them).
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    /// Draw each network's gradient size per layer and its test accuracy (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
}

/// `nnopt depth`.
pub fn run(args: DepthArgs, global: &Global, out: &Output) -> Result<()> {
    let config = DepthConfig {
        seed: args.seed,
        epochs: args.epochs,
        lr: args.lr,
        batch: args.batch,
        layers: args.layers,
        width: args.width,
        probe_steps: args.probe_steps,
        limit: args.limit,
    };
    config.validate()?;
    let source = DataSource::parse(&args.data)?;
    let claims = &mut Claims::default();
    for file in source.files() {
        claims.input("--data", &file)?;
    }
    let files = Files::new(claims, None, args.plot.as_deref())?;
    let device = global.device.resolve()?;
    out.note(&format!("loading {source}…"));
    let data = data::load(&source)?;
    let report = depth::run(&config, &data, device, out)?;
    emit(&report, out, &files)
}

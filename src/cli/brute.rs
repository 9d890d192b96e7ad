//! `nnopt brute-force`: its flags, the library call, the output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::brute::{self, BruteConfig};

use super::output::Output;
use super::paths::Claims;
use super::shared::{emit, Files};

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct BruteArgs {
    /// Dimension counts to compare, as a list.
    #[arg(long, value_delimiter = ',', value_name = "D[,D…]", default_value = "1,2,10,100")]
    pub dims: Vec<usize>,
    /// Evaluations a search may run; past it, the count is computed (and labelled so).
    #[arg(long, default_value_t = BruteConfig::default().cap)]
    pub cap: u64,
    /// Found means f(x) − f(minimum) ≤ this.
    #[arg(long, default_value_t = BruteConfig::default().tolerance)]
    pub tolerance: f64,
    /// Seed for the minimum's place, random search's draws and descent's start.
    #[arg(long, default_value_t = BruteConfig::default().seed)]
    pub seed: u64,
    /// Draw each search's evaluations against the dimension count (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
}

/// `nnopt brute-force`.
pub fn run(args: BruteArgs, out: &Output) -> Result<()> {
    let config = BruteConfig { dims: args.dims, cap: args.cap, tolerance: args.tolerance, seed: args.seed };
    let files = Files::new(&mut Claims::default(), None, args.plot.as_deref())?;
    emit(&brute::run(&config)?, out, &files)
}

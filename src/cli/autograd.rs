//! `nnopt autograd`: its flags, the library call, the output.

use anyhow::Result;
use clap::Args;
use nnopt::autograd::{self, AutogradConfig};

use super::output::Output;
use super::paths::Claims;
use super::shared::GraphArgs;
use super::Global;

#[derive(Debug, Args)]
// On every command: a negative value (`--seed -1`, `--lr -1`) is parsed and refused by its
// own flag, not read as a flag.
#[command(allow_negative_numbers = true)]
pub struct AutogradArgs {
    /// The input x.
    #[arg(long, default_value_t = AutogradConfig::default().x)]
    pub x: f64,
    /// The weight w (try --b -10 to see a zero gradient).
    #[arg(long, default_value_t = AutogradConfig::default().w)]
    pub w: f64,
    /// The bias b.
    #[arg(long, default_value_t = AutogradConfig::default().b)]
    pub b: f64,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[arg(long, help = super::shared::CODE_HELP)]
    pub code: bool,
}

/// `nnopt autograd`.
pub fn run(args: AutogradArgs, global: &Global, out: &Output) -> Result<()> {
    let config =
        AutogradConfig { x: args.x, w: args.w, b: args.b, graph: args.graph.wanted(&mut Claims::default())? };
    let device = global.device.resolve()?;
    let programs = AutogradConfig::default();
    let differs = super::shared::differing(&[
        ("--x", config.x, programs.x),
        ("--w", config.w, programs.w),
        ("--b", config.b, programs.b),
    ]);
    super::shared::show_code(args.code, (nnopt::code::Listing::Autograd, 0), differs, out)?;
    let report = autograd::run(&config, device)?;
    args.graph.write(report.backward_graph.as_ref(), "the backward graph of a = relu(w·x + b)", out)?;
    out.report(&report)
}

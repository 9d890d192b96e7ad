//! `nnopt descent`: its flags, the library call, the output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::descent::{self, DescentConfig, Optimizer, Surface};
use nnopt::error::usage;

use super::output::Output;
use super::paths::Claims;
use super::shared::{emit, Files};
use super::Global;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
#[command(after_long_help = descent_rules())]
pub struct DescentArgs {
    /// The loss surface: quadratic, cosine, ill-conditioned, rosenbrock, rastrigin, saddle, step.
    #[arg(long, default_value = DescentConfig::default().surface.name())]
    pub surface: String,
    /// Print every surface (formula, gradient, domain, minima) and every optimizer's update rule, and stop.
    #[arg(long)]
    pub list: bool,
    /// Optimizers, comma-separated, each may repeat: gd, momentum, nesterov, adam, rmsprop,
    /// random-search, grid-search [default: the five gradient methods; no nesterov with --momentum 0].
    #[arg(long, value_delimiter = ',')]
    pub optimizers: Option<Vec<String>>,
    /// Learning rate: one for every optimizer, or one per optimizer in --optimizers' order
    /// [default: the surface's, see --list].
    #[arg(long, value_delimiter = ',', value_name = "LR[,LR…]")]
    pub lr: Option<Vec<f64>>,
    /// μ of momentum and nesterov: one value, or one per optimizer in --optimizers' order.
    #[arg(long, value_delimiter = ',', value_name = "MU[,MU…]", default_value = "0.9")]
    pub momentum: Vec<f64>,
    /// Steps at most (a search: points sampled) [default: the surface's].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Starting point: X, or X1,X2 on a 2-D surface (negative values work: --start -5,-2).
    #[arg(long, allow_hyphen_values = true, value_name = "X[,X2]")]
    pub start: Option<String>,
    /// Spread K starting points over the domain, drawn from --seed.
    #[arg(long, value_name = "K")]
    pub starts: Option<usize>,
    /// Seed for --starts and random-search.
    #[arg(long, default_value_t = DescentConfig::default().seed)]
    pub seed: u64,
    /// Converged when ‖∇f‖ falls below this; a run within this distance of a minimum reached it.
    #[arg(long, default_value_t = DescentConfig::default().tol)]
    pub tol: f64,
    /// Write every trajectory here as CSV (one row per point).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Draw the surface with every run's path, and the loss per step (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
}

/// The update rules, under `descent --help`.
fn descent_rules() -> String {
    let rules: Vec<String> =
        Optimizer::ALL.iter().map(|o| format!("  {:<14} {}", o.name(), o.rule())).collect();
    format!("Update rules (g = ∇f(x), t = step):\n{}", rules.join("\n"))
}

pub fn run(args: DescentArgs, global: &Global, out: &Output) -> Result<()> {
    if args.list {
        return out.report(&descent::list()?);
    }
    let config = config(&args)?;
    let files = Files::new(&mut Claims::default(), args.csv.as_deref(), args.plot.as_deref())?;
    let report = descent::run(&config, global.device.resolve()?, out)?;
    emit(&report, out, &files)?;
    for run in &report.runs {
        out.chart(&format!("{:<8} f", descent::report::run_label(run, &report.runs)), &run.losses);
    }
    Ok(())
}

/// The run `args` ask for, validated: the command's and `nnopt lab`'s descent view's.
pub fn config(args: &DescentArgs) -> Result<DescentConfig> {
    let start = args
        .start
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(|v| {
                    v.trim().parse::<f64>().map_err(|_| usage(format!("--start {s}: '{v}' is not a number")))
                })
                .collect::<Result<Vec<f64>>>()
        })
        .transpose()?;
    let optimizers = match &args.optimizers {
        Some(names) => Some(names.iter().map(|n| Optimizer::parse(n)).collect::<Result<_>>()?),
        None => None,
    };
    let config = DescentConfig {
        surface: Surface::parse(&args.surface)?,
        optimizers,
        lr: args.lr.clone(),
        momentum: args.momentum.clone(),
        steps: args.steps,
        start,
        starts: args.starts,
        seed: args.seed,
        tol: args.tol,
    };
    config.validate()?;
    Ok(config)
}

//! `nnopt descent`: optimizers on loss surfaces small enough to see — the notebook's opening
//! claim made visible: "The original algorithm [gradient descent] is susceptible to getting
//! locked in a local minima and never reach the true minima of the surface", and, where the
//! loss is not continuous and well behaved, gradients fall short where a search does not.
//!
//! One file per idea:
//! - [`surface`]: each surface's formula, gradient, domain and lesson; [`minima`]: its known
//!   minima, basins and the curvature tests a stopping point must pass;
//! - [`optimizer`]: each optimizer with its update rule as data (gradient methods and searches);
//! - [`mod@run`]: one run (steps, stopping, and where it goes when continued); what the run did
//!   is judged in [`crate::judge::motion`] and said in [`crate::judge::descent`];
//! - [`report`]: text, `--list` and CSV; [`figure`]: the picture.
//!
//! This file holds the settings of a whole `descent` command and runs them.

pub mod figure;
pub mod minima;
pub mod optimizer;
pub mod report;
pub mod run;
pub mod surface;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tch::Device;

pub use crate::judge::motion::{Final, Motion, Status};
pub use optimizer::Optimizer;
pub use report::{list, render_list, summarize, trajectories_csv, write_csv};
pub use run::{Run, RunSpec};
pub use surface::{Domain, Minimum, Surface, SurfaceInfo};

use crate::error::{ensure_positive, ensure_usage};
use crate::observe::Observer;

/// Steps a run may take at most: the trajectory is kept, so this bounds memory.
pub const MAX_STEPS: usize = 100_000;
/// Steps of all runs together (starts × optimizers × steps): about a minute of work.
pub const MAX_TOTAL_STEPS: usize = 1_000_000;
/// `--tol` above this would call a point converged while the slope is still steep.
pub const MAX_TOL: f64 = 1e-2;
/// Starting points a run may spread (`--starts`).
pub const MAX_STARTS: usize = 100;

/// A `descent` command's settings; `None` means the surface's default.
///
/// `lr` and `momentum` hold one value for every optimizer, or one per entry of `optimizers`,
/// paired in order: `gd,gd,momentum` with `0.4,0.6,0.6` compares gd at two rates.
#[derive(Debug, Clone, PartialEq)]
pub struct DescentConfig {
    pub surface: Surface,
    /// `None`: every gradient method that suits the settings (nesterov needs momentum > 0).
    /// An optimizer may be listed more than once.
    pub optimizers: Option<Vec<Optimizer>>,
    pub lr: Option<Vec<f64>>,
    pub momentum: Vec<f64>,
    pub steps: Option<usize>,
    pub start: Option<Vec<f64>>,
    /// Spread this many starting points over the domain instead of one start.
    pub starts: Option<usize>,
    /// Seeds `--starts` and the random search.
    pub seed: u64,
    pub tol: f64,
}

impl Default for DescentConfig {
    fn default() -> Self {
        DescentConfig {
            surface: Surface::Cosine,
            optimizers: None,
            lr: None,
            momentum: vec![0.9],
            steps: None,
            start: None,
            starts: None,
            seed: 0,
            tol: 1e-6,
        }
    }
}

/// One entry of the optimizer list with its own rate and μ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub optimizer: Optimizer,
    pub lr: f64,
    pub momentum: f64,
}

/// `values` paired with `n` optimizers: one value for all, or one each.
fn paired(flag: &str, values: &[f64], n: usize, listed: bool) -> Result<Vec<f64>> {
    match values.len() {
        1 => Ok(vec![values[0]; n]),
        k if k == n && listed => Ok(values.to_vec()),
        k if !listed => Err(crate::error::usage(format!(
            "{flag} lists {k} values but --optimizers is not given; list the optimizers to pair them with"
        ))),
        k => Err(crate::error::usage(format!(
            "{flag} lists {k} values for {n} optimizers; give one value, or one per optimizer in --optimizers' order"
        ))),
    }
}

impl DescentConfig {
    /// The optimizer list with each entry's rate and μ, checked.
    pub fn settings(&self) -> Result<Vec<Setting>> {
        let default_lr = self.surface.defaults().1;
        let momentum = self.momentum.first().copied().unwrap_or(0.9);
        let optimizers: Vec<Optimizer> = match &self.optimizers {
            Some(list) => list.clone(),
            None => Optimizer::GRADIENT
                .into_iter()
                .filter(|&o| o != Optimizer::Nesterov || momentum > 0.0)
                .collect(),
        };
        ensure_usage(!optimizers.is_empty(), || "--optimizers lists no optimizer".to_string())?;
        let listed = self.optimizers.is_some();
        let n = optimizers.len();
        let lrs = paired("--lr", self.lr.as_deref().unwrap_or(&[default_lr]), n, listed)?;
        let mus = paired("--momentum", &self.momentum, n, listed)?;
        let settings: Vec<Setting> = optimizers
            .into_iter()
            .zip(lrs)
            .zip(mus)
            .map(|((optimizer, lr), momentum)| Setting { optimizer, lr, momentum })
            .collect();
        for s in settings.iter().filter(|s| s.optimizer.uses_gradient()) {
            ensure_positive("--lr", s.lr)?;
            let m = s.momentum;
            ensure_usage((0.0..1.0).contains(&m), || format!("--momentum must be in [0, 1), got {m}"))?;
            ensure_usage(!(s.optimizer == Optimizer::Nesterov && m == 0.0), || {
                "--optimizers nesterov needs --momentum above 0 (Nesterov momentum of 0 is plain gd)"
                    .to_string()
            })?;
        }
        Ok(settings)
    }

    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        let settings = self.settings()?;
        if let Some(steps) = self.steps {
            ensure_usage((1..=MAX_STEPS).contains(&steps), || {
                format!("--steps must be between 1 and {MAX_STEPS}, got {steps}")
            })?;
        }
        ensure_positive("--tol", self.tol)?;
        ensure_usage(self.tol <= MAX_TOL, || {
            format!("--tol {} is too loose: a point would count as converged on a steep slope; use at most {MAX_TOL}", self.tol)
        })?;
        let (surface, dims, domain) = (self.surface, self.surface.dimensions(), self.surface.domain());
        if let Some(start) = &self.start {
            ensure_usage(start.iter().all(|x| x.is_finite()), || {
                format!("--start {start:?}: every coordinate must be a finite number")
            })?;
            ensure_usage(start.len() == dims, || {
                let form = if dims == 1 { "--start X" } else { "--start X1,X2" };
                format!(
                    "--start has {} coordinate(s) but {} is {dims}-D; give {form}",
                    start.len(),
                    surface.name()
                )
            })?;
            ensure_usage(domain.contains(start), || {
                format!(
                    "--start {start:?} is outside {}'s domain {}; its minima are only listed there",
                    surface.name(),
                    domain.describe()
                )
            })?;
        }
        if let Some(k) = self.starts {
            ensure_usage((1..=MAX_STARTS).contains(&k), || {
                format!("--starts must be between 1 and {MAX_STARTS}, got {k}")
            })?;
            ensure_usage(self.start.is_none(), || "give --start or --starts, not both".to_string())?;
        }
        let runs = self.starts.unwrap_or(1) * settings.len();
        let total = runs.saturating_mul(self.steps.unwrap_or(surface.defaults().2));
        ensure_usage(total <= MAX_TOTAL_STEPS, || {
            format!("{runs} runs × {} steps = {total} steps, more than {MAX_TOTAL_STEPS}; lower --steps or --starts", total / runs.max(1))
        })
    }

    /// The starts: the one given, the surface's default, or `--starts` spread over the domain.
    pub fn starting_points(&self) -> Vec<Vec<f64>> {
        match (self.starts, &self.start) {
            (Some(k), _) => {
                // Stratified along x₁ (one start per 1/k of it), uniform in the others: spread,
                // yet drawn from the seed (nnopt's own generator, not libtorch's global one).
                let mut rng = StdRng::seed_from_u64(self.seed);
                let domain = self.surface.domain().0;
                (0..k)
                    .map(|i| {
                        domain
                            .iter()
                            .enumerate()
                            .map(|(d, [lo, hi])| {
                                let u: f64 = rng.random();
                                let t = if d == 0 { (i as f64 + u) / k as f64 } else { u };
                                lo + t * (hi - lo)
                            })
                            .collect()
                    })
                    .collect()
            }
            (None, Some(start)) => vec![start.clone()],
            (None, None) => vec![self.surface.defaults().0],
        }
    }
}

/// Everything `descent` found.
#[derive(Debug, Clone, Serialize)]
pub struct DescentReport {
    pub surface: SurfaceInfo,
    pub runs: Vec<Run>,
    /// What the runs show, one sentence per outcome.
    pub summary: String,
    /// Why runs from one start ended in different minima ([`crate::judge::contrast`]).
    pub why: Vec<String>,
}

/// Runs one optimizer from `start` and says where it ended: the run judged, then the sentence
/// its report writes from that judgement.
pub fn run_one(surface: Surface, minima: &[Minimum], spec: RunSpec, start: &[f64]) -> Result<Run> {
    let mut run = run::descend_from(surface, minima, spec, start)?;
    run.outcome = crate::judge::descent::sentence(&run.start, &run.end, &surface.domain());
    Ok(run)
}

/// Runs every optimizer of `config` from every start.
///
/// ```
/// use nnopt::descent::{run, DescentConfig, Optimizer};
/// // The notebook's claim: from −6.5 on x·cos(0.15πx), gd stays in the local valley.
/// let config = DescentConfig { optimizers: Some(vec![Optimizer::Gd]), ..Default::default() };
/// let report = run(&config, tch::Device::Cpu, &nnopt::observe::Quiet)?;
/// let reached = report.runs[0].end.minimum.as_ref().expect("it converged");
/// assert!(!reached.global);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run(config: &DescentConfig, device: Device, observer: &dyn Observer) -> Result<DescentReport> {
    crate::device::prepare(device);
    config.validate()?;
    let surface = config.surface;
    let info = surface.info()?;
    let steps = config.steps.unwrap_or(surface.defaults().2);
    let starts = config.starting_points();
    let settings = config.settings()?;
    // Continuing the runs that run out of steps shares what --steps leaves of the budget.
    let count = (starts.len() * settings.len()).max(1);
    let continued = (MAX_TOTAL_STEPS / count).saturating_sub(steps).min(crate::judge::motion::CONTINUED);
    observer.start("runs", (starts.len() * settings.len()) as u64);
    let mut runs = Vec::new();
    for (k, start) in starts.iter().enumerate() {
        for s in &settings {
            let spec = RunSpec {
                optimizer: s.optimizer,
                lr: s.lr,
                momentum: s.momentum,
                steps,
                continued,
                tol: config.tol,
                device,
                // Each start's search draws its own samples.
                seed: config.seed.wrapping_add(k as u64),
            };
            runs.push(run_one(surface, &info.minima, spec, start)?);
            observer.advance();
        }
    }
    observer.finish();
    let mut summary = summarize(&runs);
    let why = why_they_differ(&runs, surface.name());
    if !why.is_empty() {
        summary.push_str("\n\n");
        // Sentences wrap; an indented line is a command to copy, kept whole.
        let lines: Vec<String> = why
            .iter()
            .map(|s| if s.starts_with("  ") { s.clone() } else { crate::text::wrap(s, crate::text::WIDTH) })
            .collect();
        summary.push_str(&lines.join("\n"));
    }
    Ok(DescentReport { surface: info, runs, summary, why })
}

impl crate::report::Report for DescentReport {
    fn text(&self) -> String {
        report::render(self)
    }
    fn csv(&self) -> Option<String> {
        Some(trajectories_csv(self))
    }
    /// Here, not in `report.rs`: the figure uses the report's labels, so the report cannot use it.
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        figure::figure(self).map(Some)
    }
}

/// [`crate::judge::contrast`]'s reading of the runs: how each moves, where it ended, its longest
/// step.
fn why_they_differ(runs: &[Run], surface: &str) -> Vec<String> {
    use crate::judge::contrast::{Moved, Mover};
    let labels: Vec<String> = runs.iter().map(|r| report::run_label(r, runs)).collect();
    let moved: Vec<Moved> = runs
        .iter()
        .zip(&labels)
        .map(|(r, label)| Moved {
            name: label,
            optimizer: r.optimizer.name(),
            mover: match r.optimizer {
                Optimizer::Gd => Mover::Plain,
                Optimizer::Momentum | Optimizer::Nesterov => Mover::Velocity,
                Optimizer::Adam | Optimizer::Rmsprop => Mover::Adaptive,
                Optimizer::RandomSearch | Optimizer::GridSearch => Mover::Search,
            },
            lr: r.lr,
            momentum: r.momentum,
            start: &r.start,
            global: r.end.minimum.as_ref().map(|m| m.global),
            longest_step: r
                .trajectory
                .windows(2)
                .map(|w| w[0].iter().zip(&w[1]).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt())
                .fold(0.0, f64::max),
            largest_climb: r
                .losses
                .iter()
                .scan(f64::INFINITY, |low, &l| {
                    *low = low.min(l);
                    Some(l - *low)
                })
                .filter(|c| c.is_finite())
                .fold(0.0, f64::max),
        })
        .collect();
    crate::judge::contrast::why_they_differ(&moved, surface)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(optimizers: &str, lr: &[f64], momentum: &[f64]) -> DescentConfig {
        DescentConfig {
            optimizers: Some(optimizers.split(',').map(|o| Optimizer::parse(o).unwrap()).collect()),
            lr: Some(lr.to_vec()),
            momentum: momentum.to_vec(),
            ..DescentConfig::default()
        }
    }

    #[test]
    fn lists_pair_in_order_and_one_value_serves_all() {
        let s = config("gd,gd,momentum", &[0.4, 0.6, 0.6], &[0.5]).settings().unwrap();
        let got: Vec<(&str, f64, f64)> = s.iter().map(|s| (s.optimizer.name(), s.lr, s.momentum)).collect();
        assert_eq!(got, [("gd", 0.4, 0.5), ("gd", 0.6, 0.5), ("momentum", 0.6, 0.5)]);
    }

    #[test]
    fn mismatched_or_bad_lists_name_the_flag() {
        let err = |c: DescentConfig| c.settings().unwrap_err().to_string();
        assert!(err(config("gd,momentum", &[0.1, 0.2, 0.3], &[0.9])).contains("--lr lists 3 values for 2"));
        assert!(err(config("gd,momentum", &[0.1], &[0.9, 0.5, 0.1])).contains("--momentum lists 3"));
        assert!(err(config("gd,momentum", &[0.1, 0.0], &[0.9])).contains("--lr"));
        assert!(err(config("gd,momentum", &[0.1, -1.0], &[0.9])).contains("--lr"));
        assert!(err(config("gd,nesterov", &[0.1], &[0.9, 0.0])).contains("nesterov needs --momentum"));
        let unlisted = DescentConfig { lr: Some(vec![0.1, 0.2]), ..DescentConfig::default() };
        assert!(err(unlisted).contains("--optimizers is not given"));
    }

    #[test]
    fn the_default_list_drops_nesterov_only_without_momentum() {
        let names = |c: DescentConfig| -> Vec<&str> {
            c.settings().unwrap().iter().map(|s| s.optimizer.name()).collect()
        };
        assert_eq!(names(DescentConfig::default()), ["gd", "momentum", "nesterov", "adam", "rmsprop"]);
        let no_mu = DescentConfig { momentum: vec![0.0], ..DescentConfig::default() };
        assert_eq!(names(no_mu), ["gd", "momentum", "adam", "rmsprop"]);
    }
}

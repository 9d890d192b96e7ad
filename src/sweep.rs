//! `nnopt sweep`: hyperparameter search over real training runs — what the notebook points to
//! for everything gradients cannot learn: "Optimization libraries/methods: gridsearch, hyperopt,
//! optuna, NAS". The learning rate, the widths, the batch size and the optimizer are searched,
//! not backpropagated.
//!
//! Every trial is a real `train::train` run (in-process, the same code path as `nnopt train`),
//! scored on a validation split carved from the training set (seeded, stratified by class);
//! only the winner ever sees the test set, once. Strategies: `grid` (the Cartesian product),
//! `random`, `halving` (successive halving, as optuna's and scikit-learn's: half the configs
//! survive each rung and train twice as long, from scratch) and `tpe` (the Tree-structured
//! Parzen Estimator of hyperopt and optuna, from the `tpe` crate: one independent estimator per
//! hyperparameter, as hyperopt's and optuna's default). All draw from one generator seeded by
//! `--seed`, so the same flags give the same trials and the same accuracies.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tch::{Device, Tensor};

use crate::data::{Dataset, Split};
use crate::error::{ensure_usage, torch, usage};
use crate::metrics::evaluate;
use crate::output::Output;
use crate::train::{self, EpochMetrics, Hooks, OptimizerKind, Stop, TrainConfig, Trained};

/// Trials a sweep may ask for.
pub const MAX_TRIALS: usize = 10_000;

/// The values one hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A list of numbers (`--lr 0.01,0.05`).
    Floats(Vec<f64>),
    /// A list of whole numbers (`--batch-size 32,128`).
    Ints(Vec<i64>),
    /// `lo..hi` (uniform) or `lo..hi:log` (log-uniform); whole numbers for an integer flag.
    Range { lo: f64, hi: f64, log: bool, int: bool },
    /// `--hidden 32,64,256x128`: layer widths per choice.
    Hidden(Vec<Vec<i64>>),
    /// `--optimizer sgd,adam`.
    Optimizers(Vec<OptimizerKind>),
}

/// One hyperparameter's value in a trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Float(f64),
    Int(i64),
    Hidden(Vec<i64>),
    Optimizer(OptimizerKind),
    /// Not used by this trial (momentum with Adam).
    Unused,
}

impl Param {
    fn json(&self) -> Value {
        match self {
            Param::Float(v) => json!(v),
            Param::Int(v) => json!(v),
            Param::Hidden(w) => json!(w),
            Param::Optimizer(o) => json!(o),
            Param::Unused => Value::Null,
        }
    }

    /// As written in the CSV and read back by `--resume`.
    fn text(&self) -> String {
        match self {
            Param::Float(v) => v.to_string(),
            Param::Int(v) => v.to_string(),
            Param::Hidden(w) => w.iter().map(i64::to_string).collect::<Vec<_>>().join("x"),
            Param::Optimizer(OptimizerKind::Sgd) => "sgd".into(),
            Param::Optimizer(OptimizerKind::Adam) => "adam".into(),
            Param::Unused => String::new(),
        }
    }
}

/// The hyperparameters nnopt searches, in this order, with the flag that sets each.
pub const NAMES: [&str; 6] = ["lr", "momentum", "weight_decay", "batch_size", "hidden", "optimizer"];

fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

/// The search space: the hyperparameters given on the command line (the others stay at
/// `train`'s defaults).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Space {
    pub dims: Vec<(&'static str, Domain)>,
}

impl Space {
    /// Parses one flag's value into the space: a list (`a,b,c`) or a range (`lo..hi[:log]`).
    pub fn add(&mut self, name: &'static str, text: &str) -> Result<()> {
        let f = flag(name);
        let bad = |why: String| usage(format!("{f} {text}: {why}"));
        let domain = match name {
            "hidden" => Domain::Hidden(
                text.split(',')
                    .map(|choice| {
                        choice
                            .split('x')
                            .map(|w| {
                                w.trim()
                                    .parse::<i64>()
                                    .map_err(|_| bad(format!("'{choice}' is not widths like 64 or 256x128")))
                            })
                            .collect::<Result<Vec<i64>>>()
                    })
                    .collect::<Result<_>>()?,
            ),
            "optimizer" => Domain::Optimizers(
                text.split(',')
                    .map(|o| match o.trim() {
                        "sgd" => Ok(OptimizerKind::Sgd),
                        "adam" => Ok(OptimizerKind::Adam),
                        other => Err(bad(format!("'{other}' is not an optimizer; use sgd or adam"))),
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => {
                let int = name == "batch_size";
                let (range, log) = text.strip_suffix(":log").map_or((text, false), |r| (r, true));
                {
                    if let Some((lo, hi)) = range.split_once("..") {
                        let number = |s: &str| {
                            s.trim().parse::<f64>().map_err(|_| bad(format!("'{s}' is not a number")))
                        };
                        let (lo, hi) = (number(lo)?, number(hi)?);
                        if lo >= hi || lo.is_nan() || hi.is_nan() {
                            return Err(bad(format!(
                                "the range is empty or reversed ({lo} is not below {hi})"
                            )));
                        }
                        if log && lo <= 0.0 {
                            return Err(bad("a :log range needs a lower end above 0".into()));
                        }
                        // Integers are drawn from lo to hi inclusive: the ends must be integers,
                        // or a draw could land outside the range (2.5..2.7 → 2) or on 0.
                        if int && (lo.fract() != 0.0 || hi.fract() != 0.0) {
                            return Err(bad(
                                "a range of whole numbers needs whole-number ends, like 32..256".into(),
                            ));
                        }
                        self.check(name, &[Param::Float(lo), Param::Float(hi)])?;
                        self.dims.push((name, Domain::Range { lo, hi, log, int }));
                        return Ok(());
                    }
                }
                if int {
                    Domain::Ints(
                        text.split(',')
                            .map(|v| {
                                v.trim()
                                    .parse::<i64>()
                                    .map_err(|_| bad(format!("'{v}' is not a whole number")))
                            })
                            .collect::<Result<_>>()?,
                    )
                } else {
                    Domain::Floats(
                        text.split(',')
                            .map(|v| {
                                v.trim().parse::<f64>().map_err(|_| bad(format!("'{v}' is not a number")))
                            })
                            .collect::<Result<_>>()?,
                    )
                }
            }
        };
        let values: Vec<Param> = match &domain {
            Domain::Floats(v) => v.iter().map(|&x| Param::Float(x)).collect(),
            Domain::Ints(v) => v.iter().map(|&x| Param::Int(x)).collect(),
            Domain::Hidden(v) => v.iter().map(|w| Param::Hidden(w.clone())).collect(),
            Domain::Optimizers(v) => v.iter().map(|&o| Param::Optimizer(o)).collect(),
            Domain::Range { .. } => Vec::new(),
        };
        self.check(name, &values)?;
        self.dims.push((name, domain));
        Ok(())
    }

    /// Refuses a value `train` would refuse, with train's own message naming the flag.
    fn check(&self, name: &str, values: &[Param]) -> Result<()> {
        for value in values {
            let mut config = TrainConfig::default();
            apply(&mut config, name, value);
            if name == "momentum" {
                config.optimizer = OptimizerKind::Sgd;
            }
            config.validate()?;
        }
        Ok(())
    }

    /// One configuration drawn uniformly (log-uniformly for `:log` ranges) from the space.
    pub fn sample(&self, rng: &mut StdRng) -> Config {
        Config(self.dims.iter().map(|(n, d)| (*n, sample(d, rng))).collect())
    }

    /// The space as `--json` shows it.
    fn json(&self) -> Value {
        let mut map = Map::new();
        for (name, domain) in &self.dims {
            map.insert(
                name.to_string(),
                match domain {
                    Domain::Floats(v) => json!(v),
                    Domain::Ints(v) => json!(v),
                    Domain::Hidden(v) => json!(v),
                    Domain::Optimizers(v) => json!(v),
                    Domain::Range { lo, hi, log, int } => {
                        json!({"low": lo, "high": hi, "log": log, "integer": int})
                    }
                },
            );
        }
        Value::Object(map)
    }
}

/// Sets one hyperparameter of a training config.
fn apply(config: &mut TrainConfig, name: &str, value: &Param) {
    match (name, value) {
        ("lr", Param::Float(v)) => config.lr = Some(*v),
        ("momentum", Param::Float(v)) => config.momentum = Some(*v),
        ("weight_decay", Param::Float(v)) => config.weight_decay = *v,
        ("batch_size", Param::Int(v)) => config.batch_size = *v,
        ("batch_size", Param::Float(v)) => config.batch_size = v.round() as i64,
        ("hidden", Param::Hidden(w)) => config.hidden = w.clone(),
        ("optimizer", Param::Optimizer(o)) => config.optimizer = *o,
        _ => {}
    }
}

/// A trial's hyperparameters, in the space's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Config(pub Vec<(&'static str, Param)>);

impl Config {
    /// The training config this trial runs: `base` with these values. Momentum means nothing to
    /// Adam, so a trial that picks Adam leaves it unused.
    pub fn train_config(&self, base: &TrainConfig) -> TrainConfig {
        let mut config = base.clone();
        for (name, value) in &self.0 {
            apply(&mut config, name, value);
        }
        if config.optimizer == OptimizerKind::Adam {
            config.momentum = None;
        }
        config
    }

    /// With momentum marked unused where the optimizer is Adam.
    fn normalized(mut self, base: &TrainConfig) -> Self {
        if self.train_config(base).optimizer == OptimizerKind::Adam {
            for (name, value) in &mut self.0 {
                if *name == "momentum" {
                    *value = Param::Unused;
                }
            }
        }
        self
    }

    fn json(&self) -> Value {
        Value::Object(self.0.iter().map(|(n, v)| (n.to_string(), v.json())).collect())
    }

    /// The CSV cells, in the space's order.
    fn key(&self) -> Vec<String> {
        self.0.iter().map(|(_, v)| v.text()).collect()
    }
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Grid,
    Random,
    Halving,
    Tpe,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Stopped by successive halving after a rung.
    Pruned,
    /// The loss became non-finite: scored as a failure.
    Diverged,
    /// The loss never moved: scored as a failure.
    Stalled,
    /// The ReLUs died: one output for every image. Scored as a failure.
    Dead,
    /// Trained to the end, but no better than guessing the most common class: it learned
    /// nothing (yet). Scored as a failure.
    Chance,
    /// Training failed with an error (e.g. out of memory for a wide network): recorded with the
    /// error, scored as a failure, and the sweep goes on.
    Failed,
    /// Ctrl-C during the trial.
    Interrupted,
}

impl Status {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ok" => Status::Ok,
            "pruned" => Status::Pruned,
            "diverged" => Status::Diverged,
            "stalled" => Status::Stalled,
            "dead" => Status::Dead,
            "chance" => Status::Chance,
            "failed" => Status::Failed,
            "interrupted" => Status::Interrupted,
            _ => return None,
        })
    }

    /// Whether the result stands: an interrupted trial is not finished, and a failed one may
    /// succeed another time (memory freed, a different machine). Only settled results are
    /// written to the CSV or taken over by a configuration drawn again.
    fn settled(self) -> bool {
        !matches!(self, Status::Interrupted | Status::Failed)
    }

    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Pruned => "pruned",
            Status::Diverged => "diverged",
            Status::Stalled => "stalled",
            Status::Dead => "dead",
            Status::Chance => "chance",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One finished trial.
#[derive(Debug, Clone)]
pub struct Trial {
    pub trial: usize,
    pub config: Config,
    /// The budget it was given (halving's rung); with the configuration, what identifies a run.
    pub epochs: usize,
    /// The epochs it trained: fewer where it diverged, stalled or failed.
    pub trained_epochs: usize,
    /// `None` for a failed trial (scored as the worst).
    pub validation_accuracy: Option<f64>,
    pub seconds: f64,
    pub status: Status,
    /// Read back from `--resume`'s CSV instead of trained in this run.
    pub resumed: bool,
    /// The earlier trial of this run with the same configuration, whose result this one takes.
    pub repeat_of: Option<usize>,
}

impl Trial {
    fn score(&self) -> f64 {
        self.validation_accuracy.unwrap_or(-1.0)
    }

    fn json(&self) -> Value {
        json!({
            "trial": self.trial,
            "params": self.config.json(),
            "epochs": self.trained_epochs,
            "budget_epochs": self.epochs,
            "validation_accuracy": self.validation_accuracy,
            "seconds": self.seconds,
            "status": self.status,
            "resumed": self.resumed,
            "repeat_of": self.repeat_of,
        })
    }
}

/// A sweep's settings.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub strategy: Strategy,
    pub space: Space,
    /// Trials for random, halving (configurations in the first rung) and tpe.
    pub trials: usize,
    /// Points per range for grid.
    pub grid_points: usize,
    /// Random trials before TPE models the results.
    pub startup_trials: usize,
    /// Epochs of a trial (halving: of the last rung).
    pub epochs: usize,
    pub seed: u64,
    /// Fraction of the training set held out to score trials.
    pub validation: f64,
    /// Stop after the trial in progress once this many minutes have passed.
    pub max_minutes: Option<f64>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            strategy: Strategy::Tpe,
            space: Space::default(),
            trials: 12,
            grid_points: 3,
            startup_trials: 4,
            epochs: 3,
            seed: 0,
            validation: 0.1,
            max_minutes: None,
        }
    }
}

impl SweepConfig {
    /// The space searched when no hyperparameter flag is given: the learning rate, log-uniform
    /// over three decades, and the hidden width.
    pub fn default_space() -> Space {
        let mut space = Space::default();
        // Both parse: the literals are valid.
        let _ = space.add("lr", "0.001..1:log");
        let _ = space.add("hidden", "16,32,64");
        space
    }

    pub fn validate(&self) -> Result<()> {
        ensure_usage((1..=MAX_TRIALS).contains(&self.trials), || {
            format!("--trials must be between 1 and {MAX_TRIALS}, got {}", self.trials)
        })?;
        ensure_usage((1..=100).contains(&self.grid_points), || {
            format!("--grid-points must be between 1 and 100, got {}", self.grid_points)
        })?;
        ensure_usage((1..=10_000).contains(&self.epochs), || {
            format!("--epochs must be between 1 and 10000, got {}", self.epochs)
        })?;
        let v = self.validation;
        ensure_usage(v > 0.0 && v < 0.9, || {
            format!("--validation must be more than 0 and less than 0.9, got {v}")
        })?;
        if let Some(m) = self.max_minutes {
            ensure_usage(m.is_finite() && m > 0.0, || {
                format!("--max-minutes must be a number > 0, got {m}")
            })?;
        }
        if self.strategy == Strategy::Halving {
            let rungs = halving_plan(self.trials, self.epochs).len();
            let needed = halving_epochs_needed(self.trials);
            ensure_usage(self.epochs >= needed, || {
                format!(
                    "--epochs {} is too few for halving {} trials: its {rungs} rungs double the epochs each time, \
                     so the last needs at least {needed}; raise --epochs or lower --trials",
                    self.epochs, self.trials
                )
            })?;
        }
        if self.strategy == Strategy::Grid {
            let count = self.grid().len();
            ensure_usage(count <= MAX_TRIALS, || {
                format!("the grid has {count} points, more than {MAX_TRIALS}")
            })?;
        }
        Ok(())
    }

    /// Every grid point: lists as given, ranges as `grid_points` values (log-spaced for `:log`).
    pub fn grid(&self) -> Vec<Config> {
        let axes: Vec<(&'static str, Vec<Param>)> = self
            .space
            .dims
            .iter()
            .map(|(name, domain)| (*name, domain_values(domain, self.grid_points)))
            .collect();
        let mut configs = vec![Vec::new()];
        for (name, values) in &axes {
            configs = configs
                .into_iter()
                .flat_map(|prefix: Vec<(&'static str, Param)>| {
                    values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((*name, v.clone()));
                        c
                    })
                })
                .collect();
        }
        configs.into_iter().map(Config).collect()
    }
}

/// The values of a domain on a grid.
fn domain_values(domain: &Domain, points: usize) -> Vec<Param> {
    match domain {
        Domain::Floats(v) => v.iter().map(|&x| Param::Float(x)).collect(),
        Domain::Ints(v) => v.iter().map(|&x| Param::Int(x)).collect(),
        Domain::Hidden(v) => v.iter().map(|w| Param::Hidden(w.clone())).collect(),
        Domain::Optimizers(v) => v.iter().map(|&o| Param::Optimizer(o)).collect(),
        &Domain::Range { lo, hi, log, int } => {
            // The ends exactly, the points between evenly spaced (in log for :log).
            let at = |t: f64| match t {
                0.0 => lo,
                1.0 => hi,
                _ if log => (lo.ln() + t * (hi.ln() - lo.ln())).exp(),
                _ => lo + t * (hi - lo),
            };
            let mut values: Vec<Param> = (0..points)
                .map(|i| if points == 1 { 0.5 } else { i as f64 / (points - 1) as f64 })
                .map(|t| if int { Param::Int(at(t).round() as i64) } else { Param::Float(at(t)) })
                .collect();
            values.dedup();
            values
        }
    }
}

/// One value drawn uniformly (log-uniformly for `:log`) from a domain.
fn sample(domain: &Domain, rng: &mut StdRng) -> Param {
    let pick = |n: usize, rng: &mut StdRng| rng.random_range(0..n);
    match domain {
        Domain::Floats(v) => Param::Float(v[pick(v.len(), rng)]),
        Domain::Ints(v) => Param::Int(v[pick(v.len(), rng)]),
        Domain::Hidden(v) => Param::Hidden(v[pick(v.len(), rng)].clone()),
        Domain::Optimizers(v) => Param::Optimizer(v[pick(v.len(), rng)]),
        &Domain::Range { lo, hi, log, int } => {
            let u: f64 = rng.random();
            from_unit(lo, hi, log, int, u)
        }
    }
}

/// The value at position `u` ∈ [0, 1) of a range: integers are drawn from [lo, hi + 1) and
/// floored, so each whole number from lo to hi is equally likely (per unit of the scale).
fn from_unit(lo: f64, hi: f64, log: bool, int: bool, u: f64) -> Param {
    let (a, b) = scale_bounds(lo, hi, log, int);
    let t = a + u * (b - a);
    let x = if log { t.exp() } else { t };
    if int {
        Param::Int(x.floor().clamp(lo, hi) as i64)
    } else {
        Param::Float(x.clamp(lo, hi))
    }
}

/// A range's ends on the scale it is sampled in (log for `:log`), half-open as the tpe crate's
/// ranges are; integers get the whole last unit.
fn scale_bounds(lo: f64, hi: f64, log: bool, int: bool) -> (f64, f64) {
    let hi = if int { hi + 1.0 } else { hi };
    if log {
        (lo.ln(), hi.ln())
    } else {
        (lo, hi)
    }
}

/// A TPE sampler per hyperparameter: ranges in their own (log) scale with a Parzen estimator,
/// lists as categories with a histogram.
struct TpeSampler {
    optimizers: Vec<tpe::TpeOptimizer>,
}

impl TpeSampler {
    fn new(space: &Space) -> Result<Self> {
        let optimizers = space
            .dims
            .iter()
            .map(|(_, domain)| {
                let built = match domain {
                    &Domain::Range { lo, hi, log, int } => {
                        let (a, b) = scale_bounds(lo, hi, log, int);
                        tpe::range(a, b).map(|r| tpe::TpeOptimizer::new(tpe::parzen_estimator(), r))
                    }
                    other => tpe::categorical_range(domain_values(other, 1).len())
                        .map(|r| tpe::TpeOptimizer::new(tpe::histogram_estimator(), r)),
                };
                built.map_err(|e| anyhow::anyhow!("tpe: {e}"))
            })
            .collect::<Result<_>>()?;
        Ok(TpeSampler { optimizers })
    }

    /// The next configuration TPE proposes.
    fn ask(&mut self, space: &Space, rng: &mut StdRng) -> Result<Config> {
        let mut config = Vec::new();
        for ((name, domain), optimizer) in space.dims.iter().zip(&mut self.optimizers) {
            let x = optimizer.ask(rng).map_err(|e| anyhow::anyhow!("tpe: {e}"))?;
            let value = match domain {
                &Domain::Range { lo, hi, log, int } => {
                    let v = if log { x.exp() } else { x };
                    if int {
                        Param::Int(v.floor().clamp(lo, hi) as i64)
                    } else {
                        Param::Float(v.clamp(lo, hi))
                    }
                }
                other => domain_values(other, 1)[(x as usize).min(domain_values(other, 1).len() - 1)].clone(),
            };
            config.push((*name, value));
        }
        Ok(Config(config))
    }

    /// Feeds a finished trial back: TPE minimizes, so the loss is 1 − accuracy (1 for a failure);
    /// a hyperparameter the trial did not use is told as NaN, as the crate asks.
    fn tell(&mut self, space: &Space, trial: &Trial) -> Result<()> {
        let objective = 1.0 - trial.validation_accuracy.unwrap_or(0.0);
        for (((_, domain), optimizer), (_, value)) in
            space.dims.iter().zip(&mut self.optimizers).zip(&trial.config.0)
        {
            let x = match (domain, value) {
                (_, Param::Unused) => f64::NAN,
                (&Domain::Range { lo, hi, log, int }, Param::Float(_) | Param::Int(_)) => {
                    let v = match value {
                        Param::Int(i) => *i as f64,
                        Param::Float(f) => *f,
                        _ => lo,
                    };
                    // Inside the crate's half-open range: a float range's own end is told just below it.
                    let (a, b) = scale_bounds(lo, hi, log, int);
                    let t = if log { v.ln() } else { v };
                    t.clamp(a, b - (b - a) * 1e-12)
                }
                (other, v) => domain_values(other, 1).iter().position(|c| c == v).unwrap_or(0) as f64,
            };
            optimizer.tell(x, objective).map_err(|e| anyhow::anyhow!("tpe: {e}"))?;
        }
        Ok(())
    }
}

/// The training and validation splits: `fraction` of each class's training images, chosen by a
/// permutation seeded by `seed`, are held out. Returns them as a data set (its `test` is the
/// validation split) and, apart, `data`'s own test split, which only the winner may see.
///
/// The rows are partitioned in place — training rows first, in their order, then validation
/// rows, in theirs — and both splits are views of that one buffer: holding the training set
/// twice (the original and a copy) would be the largest allocation of a sweep. The training
/// tensors' storage is reordered: a `shallow_clone` of them kept elsewhere sees the new order.
pub fn validation_split(data: Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Split)> {
    let labels: Vec<i64> = Vec::try_from(&data.train.labels).map_err(torch)?;
    let mut by_class: Vec<Vec<i64>> = vec![Vec::new(); data.classes as usize];
    for (i, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(i as i64);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_7a11);
    let (mut kept, mut held) = (0, Vec::new());
    for mut indices in by_class {
        // Fisher–Yates, from the seed.
        for i in (1..indices.len()).rev() {
            indices.swap(i, rng.random_range(0..=i));
        }
        let hold = ((indices.len() as f64) * fraction).round() as usize;
        held.extend_from_slice(&indices[..hold]);
        kept += indices.len() - hold;
    }
    held.sort_unstable();
    ensure_usage(!held.is_empty() && kept > 0, || {
        format!(
            "--validation {fraction} leaves an empty training or validation split of {} images",
            labels.len()
        )
    })?;
    let Dataset {
        name,
        train: Split { mut images, labels: mut label_tensor },
        test,
        height,
        width,
        classes,
        spec,
        class_names,
    } = data;
    partition_rows(&mut images, &held)?;
    partition_rows(&mut label_tensor, &held)?;
    let (kept, held) = (kept as i64, held.len() as i64);
    let part = |start: i64, len: i64| -> Result<Split> {
        Ok(Split {
            images: images.f_narrow(0, start, len).map_err(torch)?,
            labels: label_tensor.f_narrow(0, start, len).map_err(torch)?,
        })
    };
    let split = Dataset {
        // The source's name, as the weights of the winner record it.
        name,
        train: part(0, kept)?,
        test: part(kept, held)?,
        height,
        width,
        classes,
        spec,
        class_names,
    };
    Ok((split, test))
}

/// Moves the rows `held` (sorted, distinct) of `t` to its end and the others to its start, each
/// group in its original order, in place: only the held rows are copied aside.
fn partition_rows(t: &mut Tensor, held: &[i64]) -> Result<()> {
    let aside = t.f_index_select(0, &Tensor::from_slice(held)).map_err(torch)?;
    let n = t.size()[0];
    // `write`: where the next kept row goes; the rows from `next` up to the next held one are kept.
    let (mut write, mut next) = (0, 0);
    for &h in held.iter().chain([&n]) {
        while next < h {
            // A kept row moves back by the number of held rows before it (`gap`); moving at most
            // `gap` rows at once keeps source and destination apart, which `copy_` requires.
            let gap = next - write;
            let len = if gap == 0 { h - next } else { (h - next).min(gap) };
            if gap > 0 {
                let source = t.f_narrow(0, next, len).map_err(torch)?;
                t.f_narrow(0, write, len).and_then(|mut d| d.f_copy_(&source)).map_err(torch)?;
            }
            next += len;
            write += len;
        }
        next = h + 1;
    }
    t.f_narrow(0, write, held.len() as i64).and_then(|mut d| d.f_copy_(&aside)).map_err(torch)
}

/// The best trial, tested once.
#[derive(Debug, Clone, Serialize)]
pub struct Best {
    pub trial: usize,
    pub params: Value,
    pub epochs: usize,
    pub validation_accuracy: f64,
    pub test_accuracy: f64,
}

/// One rung of successive halving.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    pub epochs: usize,
    /// (trial, validation accuracy) of every configuration trained in this rung.
    pub results: Vec<(usize, Option<f64>)>,
    /// The trials that went on to the next rung.
    pub promoted: Vec<usize>,
    /// False for a rung cut short by --max-minutes or Ctrl-C (nothing was promoted from it).
    pub complete: bool,
}

/// A whole sweep, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub strategy: Strategy,
    pub seed: u64,
    pub space: Value,
    pub trials: Vec<Value>,
    /// Successive halving's rungs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<Rung>,
    pub best: Option<Best>,
    /// Evaluations on the test set: 1 (the winner), or 0 when no trial succeeded.
    pub test_evaluations: usize,
    /// Why the sweep ended early (`--max-minutes`, Ctrl-C), if it did.
    pub stopped: Option<String>,
    /// The hyperparameter whose values moved validation accuracy most, in words.
    pub mattered_most: Option<String>,
    #[serde(skip)]
    pub finished: Vec<Trial>,
    #[serde(skip)]
    pub text: String,
}

/// Where a sweep writes besides stdout.
#[derive(Debug, Clone, Default)]
pub struct SweepFiles {
    /// One row per finished trial, appended and flushed as each ends.
    pub csv: Option<PathBuf>,
    /// Trials already in this CSV are not run again.
    pub resume: Option<PathBuf>,
    /// The winner's weights.
    pub save_best: Option<PathBuf>,
}

impl SweepFiles {
    /// The CSV this sweep appends to: `--csv`, else the `--resume` file.
    fn csv_path(&self) -> Option<&Path> {
        self.csv.as_deref().or(self.resume.as_deref())
    }

    /// Refuses unwritable paths and a CSV that would be overwritten, before any training.
    pub fn check(&self) -> Result<()> {
        if let Some(path) = &self.save_best {
            crate::fsutil::ensure_writable("--save-best", path)?;
        }
        if let Some(path) = &self.csv {
            crate::fsutil::ensure_writable("--csv", path)?;
            let same = self.resume.as_ref().is_some_and(|r| r == path);
            if path.exists() && !same {
                return Err(usage(format!(
                    "--csv {}: the file exists; continue it with --resume {0}, or choose another name",
                    path.display()
                )));
            }
        }
        if let Some(path) = &self.resume {
            if !path.is_file() {
                return Err(usage(format!("--resume {}: no such file", path.display())));
            }
        }
        Ok(())
    }
}

/// The CSV's columns after the hyperparameters.
/// The CSV's columns after the hyperparameters: `epochs` is what the trial trained, as in the
/// JSON; `budget_epochs` what it was given (with the hyperparameters, what identifies a run).
const CSV_TAIL: [&str; 6] = ["budget_epochs", "epochs", "validation_accuracy", "seconds", "status", "trial"];

/// The results already in a `--resume` file, keyed by (hyperparameters, epochs).
fn read_resume(path: &Path, space: &Space, identity: &str) -> Result<HashMap<(Vec<String>, usize), Trial>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--resume {}: cannot read", path.display()))?;
    let mut lines = text.lines();
    // The first line names the run the rows belong to: other data, seed or split would make
    // them another sweep's results.
    let recorded = lines.next().unwrap_or("");
    if recorded != identity {
        return Err(usage(format!(
            "--resume {}: it records {:?}, but this sweep is {identity:?}; resume with the same --data, --seed, \
             --strategy, --validation, --startup-trials and --grid-points",
            path.display(),
            recorded
        )));
    }
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let names: Vec<&str> = space.dims.iter().map(|(n, _)| *n).collect();
    let expected: Vec<&str> = names.iter().copied().chain(CSV_TAIL).collect();
    if header != expected {
        return Err(usage(format!(
            "--resume {}: its columns ({}) are not this sweep's ({}); resume with the same search flags \
             (a file from an older nnopt, whose columns differ, cannot be resumed: start a new --csv)",
            path.display(),
            header.join(","),
            expected.join(",")
        )));
    }
    let mut done = HashMap::new();
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let bad = || anyhow::anyhow!("--resume {}: row {} is malformed: {line:?}", path.display(), row + 3);
        if cells.len() != expected.len() {
            return Err(bad());
        }
        let n = names.len();
        let key: Vec<String> = cells[..n].iter().map(|s| s.to_string()).collect();
        let epochs: usize = cells[n].parse().map_err(|_| bad())?;
        let trained_epochs: usize = cells[n + 1].parse().map_err(|_| bad())?;
        let accuracy = if cells[n + 2].is_empty() {
            None
        } else {
            Some(cells[n + 2].parse::<f64>().map_err(|_| bad())?)
        };
        let seconds: f64 = cells[n + 3].parse().map_err(|_| bad())?;
        let status = Status::parse(cells[n + 4]).ok_or_else(bad)?;
        let trial: usize = cells[n + 5].parse().map_err(|_| bad())?;
        // What nnopt writes: an accuracy in [0, 1] exactly for the trials that trained to the
        // end, a time ≥ 0, no interrupted trial (those are run again), each run once.
        let sane_accuracy = match (status, accuracy) {
            (Status::Ok, Some(a)) => (0.0..=1.0).contains(&a),
            (Status::Diverged | Status::Stalled | Status::Dead | Status::Chance, None) => true,
            _ => false,
        };
        let sane_epochs =
            epochs >= 1 && trained_epochs <= epochs && (status != Status::Ok || trained_epochs == epochs);
        if !(sane_accuracy && sane_epochs && seconds.is_finite() && seconds >= 0.0) {
            return Err(bad());
        }
        // The configuration itself is rebuilt by the strategy; only its results are taken.
        let placeholder = Config(Vec::new());
        // Random, tpe and halving draw with replacement: a configuration can come up again as
        // another trial. Same hyperparameters, epochs and seed train the same network, so the
        // first row stands for both.
        if done.contains_key(&(key.clone(), epochs)) {
            continue;
        }
        done.insert(
            (key, epochs),
            Trial {
                trial,
                config: placeholder,
                epochs,
                trained_epochs,
                validation_accuracy: accuracy,
                seconds,
                status,
                resumed: true,
                repeat_of: None,
            },
        );
    }
    Ok(done)
}

/// Appends one trial to the CSV and flushes it, so an interrupted sweep keeps every finished one.
fn append_csv(path: &Path, space: &Space, identity: &str, trial: &Trial) -> Result<()> {
    let exists = path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("--csv {}: cannot open", path.display()))?;
    let mut text = String::new();
    if !exists {
        text.push_str(identity);
        text.push('\n');
        let names: Vec<&str> = space.dims.iter().map(|(n, _)| *n).chain(CSV_TAIL).collect();
        text.push_str(&names.join(","));
        text.push('\n');
    }
    let accuracy = trial.validation_accuracy.map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(
        text,
        "{},{},{},{accuracy},{},{},{}",
        trial.config.key().join(","),
        trial.epochs,
        trial.trained_epochs,
        trial.seconds,
        trial.status.name(),
        trial.trial
    );
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_data())
        .with_context(|| format!("--csv {}: cannot write", path.display()))
}

/// Runs trials and keeps what a sweep needs from them: the CSV, resumed results, the best
/// network, the stop conditions.
struct Runner<'a> {
    config: &'a SweepConfig,
    base: TrainConfig,
    data: &'a Dataset,
    device: Device,
    out: Output,
    stop: &'a AtomicBool,
    csv: Option<PathBuf>,
    /// The CSV's first line: what makes two sweeps' rows interchangeable.
    identity: String,
    resumed: HashMap<(Vec<String>, usize), Trial>,
    started: Instant,
    finished: Vec<Trial>,
    /// The best trial trained in this process, with its network.
    best: Option<(Trial, Trained)>,
    stopped: Option<String>,
    bar: indicatif::ProgressBar,
}

impl Runner<'_> {
    /// Whether the sweep must stop before another trial.
    fn should_stop(&mut self) -> bool {
        if self.stopped.is_some() {
            return true;
        }
        if self.stop.load(Ordering::Relaxed) {
            self.stopped = Some("interrupted (Ctrl-C)".into());
        } else if let Some(m) = self.config.max_minutes {
            // The deadline is read between trials, never before the first: a sweep that ran
            // nothing would have no winner to report, however small the budget.
            if !self.finished.is_empty() && self.started.elapsed().as_secs_f64() >= m * 60.0 {
                self.stopped = Some(format!("--max-minutes {m} reached"));
            }
        }
        self.stopped.is_some()
    }

    /// Trains (or takes from `--resume`) one configuration for `epochs`.
    fn run(&mut self, trial: usize, config: &Config, epochs: usize) -> Result<Trial> {
        let key = (config.key(), epochs);
        if let Some(done) = self.resumed.get(&key) {
            let mut done = done.clone();
            done.config = config.clone();
            done.trial = trial;
            self.finish(done.clone(), None)?;
            return Ok(done);
        }
        // Drawn again in this run (random, tpe and halving sample with replacement): the same
        // hyperparameters, epochs and seed train the same network, so the result is taken over.
        let again = self
            .finished
            .iter()
            .find(|t| t.epochs == epochs && t.config.key() == key.0 && t.status.settled());
        if let Some(earlier) = again {
            let repeat = Trial {
                trial,
                config: config.clone(),
                seconds: 0.0,
                resumed: false,
                repeat_of: Some(earlier.repeat_of.unwrap_or(earlier.trial)),
                ..earlier.clone()
            };
            let note = format!(
                "trial {trial} repeats trial {}'s configuration: its result, not trained again",
                earlier.trial
            );
            self.bar.suspend(|| self.out.note(note));
            self.finish(repeat.clone(), None)?;
            return Ok(repeat);
        }
        let train_config = TrainConfig { epochs, ..config.train_config(&self.base) };
        let started = Instant::now();
        let quiet = Output { json: true, quiet: true };
        // Counted as they finish, so a trial that fails part-way records what it trained.
        let mut epochs_done = 0;
        let mut on_epoch = |_: &EpochMetrics| {
            epochs_done += 1;
            Ok(())
        };
        let mut hooks = Hooks { out: quiet, stop: self.stop, on_epoch: &mut on_epoch };
        let trained = match train::train(&train_config, self.data, self.device, &mut hooks) {
            Ok(trained) => trained,
            // A trial that cannot train (libtorch out of memory, a value the optimizer cannot
            // hold) is a failed trial, as optuna records one: said, scored, and the sweep goes on.
            Err(e) => {
                self.bar.suspend(|| self.out.warn(format!("trial {trial} failed: {e:#}")));
                let result = Trial {
                    trial,
                    config: config.clone(),
                    epochs,
                    trained_epochs: epochs_done,
                    validation_accuracy: None,
                    seconds: started.elapsed().as_secs_f64(),
                    status: Status::Failed,
                    resumed: false,
                    repeat_of: None,
                };
                self.finish(result.clone(), None)?;
                return Ok(result);
            }
        };
        let status = match trained.report.stop {
            Stop::Finished => Status::Ok,
            Stop::Diverged { .. } => Status::Diverged,
            Stop::Stalled { .. } => Status::Stalled,
            Stop::Dead { .. } => Status::Dead,
            Stop::Interrupted { .. } => Status::Interrupted,
        };
        // Finished, but no better than guessing the most common class: it learned nothing.
        let status = if status == Status::Ok && trained.report.at_chance { Status::Chance } else { status };
        let accuracy = (status == Status::Ok).then_some(trained.report.final_metrics.test_accuracy);
        let result = Trial {
            trial,
            config: config.clone(),
            epochs,
            // A diverged or stalled run stops early.
            trained_epochs: trained.report.epochs.len(),
            validation_accuracy: accuracy,
            seconds: started.elapsed().as_secs_f64(),
            status,
            resumed: false,
            repeat_of: None,
        };
        self.finish(result.clone(), Some(trained))?;
        Ok(result)
    }

    /// Records a finished trial: CSV row, progress line, best so far.
    fn finish(&mut self, trial: Trial, trained: Option<Trained>) -> Result<()> {
        // Only settled results are recorded, so --resume runs the others again.
        if !trial.resumed && trial.status.settled() {
            if let Some(path) = &self.csv {
                append_csv(path, &self.config.space, &self.identity, &trial)?;
            }
        }
        self.bar.inc(1);
        let accuracy = trial.validation_accuracy.map_or("—".to_string(), |a| format!("{:.2}%", 100.0 * a));
        let from = if trial.resumed { " (from --resume)" } else { "" };
        self.bar.suspend(|| {
            self.out.line(format!(
                "trial {:>3}  {}  {} epoch(s)  validation {accuracy}  {:.1} s  {}{from}",
                trial.trial,
                describe(&trial.config),
                trial.trained_epochs,
                trial.seconds,
                trial.status.name()
            ))
        });
        if trial.status == Status::Interrupted {
            self.stopped = Some("interrupted (Ctrl-C)".into());
        }
        let better = self.best.as_ref().is_none_or(|(b, _)| {
            trial.score() > b.score() || (trial.score() == b.score() && trial.epochs > b.epochs)
        });
        if let (Some(trained), true) = (trained, better && trial.validation_accuracy.is_some()) {
            self.best = Some((trial.clone(), trained));
        }
        self.finished.push(trial);
        Ok(())
    }
}

/// A hyperparameter's value in a few characters that still tell small values apart: 0.0316,
/// 4.000e-5 (not 0.0000), 1.000e6.
fn short(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e4) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// `lr=0.0316 hidden=64 …`.
fn describe(config: &Config) -> String {
    config
        .0
        .iter()
        .map(|(n, v)| match v {
            Param::Float(x) => format!("{n}={}", short(*x)),
            Param::Unused => format!("{n}=-"),
            other => format!("{n}={}", other.text()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the sweep on `data` (whose test split only the winner sees). It takes the data set
/// because it partitions the training rows in place into training and validation views (see
/// [`validation_split`]): a sweep holds the training set once, not twice (Fashion-MNIST: 47 MB).
pub fn run(
    config: &SweepConfig,
    data: Dataset,
    device: Device,
    files: &SweepFiles,
    out: Output,
    stop: &AtomicBool,
) -> Result<SweepReport> {
    config.validate()?;
    files.check()?;
    let base = TrainConfig { epochs: config.epochs, seed: config.seed, ..TrainConfig::default() };
    let (split, test) = validation_split(data, config.validation, config.seed)?;
    let identity = format!(
        "# nnopt sweep: strategy={} seed={} data={} validation={} startup_trials={} grid_points={}",
        serde_json::to_value(config.strategy)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        config.seed,
        split.spec,
        config.validation,
        config.startup_trials,
        config.grid_points
    );
    let resumed = match &files.resume {
        Some(path) => read_resume(path, &config.space, &identity)?,
        None => HashMap::new(),
    };
    let planned = match config.strategy {
        Strategy::Grid => grid_points(config, &base).len(),
        Strategy::Halving => halving_plan(config.trials, config.epochs).iter().map(|(n, _)| n).sum(),
        _ => config.trials,
    };
    let epochs_total: usize = match config.strategy {
        Strategy::Halving => halving_plan(config.trials, config.epochs).iter().map(|(n, e)| n * e).sum(),
        _ => planned * config.epochs,
    };
    let per_sample = seconds_per_sample(&split, &base, device)?;
    let estimate = epochs_total as f64 * split.train.len() as f64 * per_sample;
    let skipped = if resumed.is_empty() { "" } else { ", less the runs --resume's file already holds" };
    out.note(format!(
        "sweep: {planned} training run(s), {epochs_total} epochs × {} training images = {} sample-epochs; \
         about {}{skipped} at {:.1} µs per sample (timed on train's default network (hidden {}, batch {}): \
         wider networks and smaller batches take longer); {} validation images score them",
        split.train.len(),
        epochs_total as i64 * split.train.len(),
        human_time(estimate),
        per_sample * 1e6,
        base.hidden.iter().map(i64::to_string).collect::<Vec<_>>().join("-"),
        base.batch_size,
        split.test.len()
    ));
    let bar = out.progress(planned as u64, "trials");
    let mut runner = Runner {
        config,
        base: base.clone(),
        data: &split,
        device,
        out,
        stop,
        csv: files.csv_path().map(Path::to_path_buf),
        identity,
        resumed,
        started: Instant::now(),
        finished: Vec::new(),
        best: None,
        stopped: None,
        bar,
    };
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut rungs = Vec::new();
    match config.strategy {
        Strategy::Grid => {
            for (i, c) in grid_points(config, &base).iter().enumerate() {
                if runner.should_stop() {
                    break;
                }
                runner.run(i + 1, c, config.epochs)?;
            }
        }
        Strategy::Random => {
            for i in 0..config.trials {
                let c = config.space.sample(&mut rng);
                if runner.should_stop() {
                    break;
                }
                runner.run(i + 1, &c.normalized(&base), config.epochs)?;
            }
        }
        Strategy::Tpe => {
            let mut tpe = TpeSampler::new(&config.space)?;
            for i in 0..config.trials {
                let c = if i < config.startup_trials {
                    config.space.sample(&mut rng)
                } else {
                    tpe.ask(&config.space, &mut rng)?
                };
                if runner.should_stop() {
                    break;
                }
                let trial = runner.run(i + 1, &c.normalized(&base), config.epochs)?;
                tpe.tell(&config.space, &trial)?;
            }
        }
        Strategy::Halving => {
            let configs: Vec<Config> =
                (0..config.trials).map(|_| config.space.sample(&mut rng).normalized(&base)).collect();
            let mut alive: Vec<usize> = (0..configs.len()).collect();
            let plan = halving_plan(config.trials, config.epochs);
            for (r, &(_, epochs)) in plan.iter().enumerate() {
                let mut results = Vec::new();
                for &i in &alive {
                    if runner.should_stop() {
                        break;
                    }
                    let trial = runner.run(i + 1, &configs[i], epochs)?;
                    results.push((i, trial.score(), trial.validation_accuracy));
                }
                if runner.stopped.is_some() {
                    // Record what the cut-short rung trained; nothing is pruned by it.
                    rungs.push(Rung {
                        epochs,
                        results: results.iter().map(|&(i, _, a)| (i + 1, a)).collect(),
                        promoted: Vec::new(),
                        complete: false,
                    });
                    break;
                }
                // Stable: ties keep the earlier trial.
                results.sort_by(|a, b| b.1.total_cmp(&a.1));
                let keep = plan.get(r + 1).map_or(1, |&(n, _)| n);
                let promoted: Vec<usize> = results.iter().take(keep).map(|r| r.0).collect();
                rungs.push(Rung {
                    epochs,
                    results: results.iter().map(|&(i, _, a)| (i + 1, a)).collect(),
                    promoted: if r + 1 < plan.len() {
                        promoted.iter().map(|i| i + 1).collect()
                    } else {
                        Vec::new()
                    },
                    complete: true,
                });
                alive = promoted;
            }
        }
    }
    runner.bar.finish_and_clear();
    if config.strategy == Strategy::Halving {
        runner.finished = collapse_rungs(std::mem::take(&mut runner.finished), &rungs);
    }
    finish(config, &test, &split, &base, device, files, runner, rungs, out)
}

/// The grid's configurations, each once: Adam leaves momentum unused, so points differing only
/// there are one trial.
fn grid_points(config: &SweepConfig, base: &TrainConfig) -> Vec<Config> {
    let mut points: Vec<Config> = Vec::new();
    for c in config.grid() {
        let c = c.normalized(base);
        if !points.contains(&c) {
            points.push(c);
        }
    }
    points
}

/// One entry per halving configuration: its last rung's result, `pruned` where it was not
/// promoted to the final rung.
fn collapse_rungs(runs: Vec<Trial>, rungs: &[Rung]) -> Vec<Trial> {
    let mut by_trial: Vec<Trial> = Vec::new();
    for run in runs {
        match by_trial.iter_mut().find(|t| t.trial == run.trial) {
            // Its seconds are every rung's together: what the configuration cost.
            Some(t) if run.epochs >= t.epochs => {
                let seconds = t.seconds + run.seconds;
                *t = Trial { seconds, ..run };
            }
            Some(t) => t.seconds += run.seconds,
            None => by_trial.push(run),
        }
    }
    // Pruned: trained in a finished rung that promoted others, and not promoted.
    let pruned = |trial: usize| {
        rungs.iter().any(|r| {
            r.complete
                && !r.promoted.is_empty()
                && r.results.iter().any(|&(t, _)| t == trial)
                && !r.promoted.contains(&trial)
        })
    };
    for t in &mut by_trial {
        if t.status == Status::Ok && pruned(t.trial) {
            t.status = Status::Pruned;
        }
    }
    by_trial.sort_by_key(|t| t.trial);
    by_trial
}

/// The fewest epochs halving `trials` configurations can end with: one for the first rung,
/// doubled at each rung after it.
pub fn halving_epochs_needed(trials: usize) -> usize {
    let rungs = halving_plan(trials, 1).len();
    1usize << (rungs - 1).min(20)
}

/// Successive halving's rungs for `trials` configurations ending at `epochs`: (configurations,
/// epochs) per rung, halving the first and doubling the second, the last at `epochs`.
pub fn halving_plan(trials: usize, epochs: usize) -> Vec<(usize, usize)> {
    let mut counts = vec![trials];
    while *counts.last().unwrap_or(&1) > 1 {
        let n = *counts.last().unwrap_or(&1);
        counts.push(n.div_ceil(2));
    }
    let rungs = counts.len();
    counts
        .into_iter()
        .enumerate()
        .map(|(r, n)| (n, (epochs >> (rungs - 1 - r).min(63)).max(1)))
        // (validate() requires epochs ≥ 2^(rungs−1), so every budget is double the last.)
        .collect()
}

/// Seconds per training sample: eight batches of train's default network, timed in a second
/// epoch after a first one has warmed the allocator and the kernels up.
fn seconds_per_sample(data: &Dataset, base: &TrainConfig, device: Device) -> Result<f64> {
    let batch = (8 * base.batch_size).min(data.train.len());
    let probe = Dataset {
        name: data.name.clone(),
        train: Split {
            images: data.train.images.f_narrow(0, 0, batch).map_err(torch)?,
            labels: data.train.labels.f_narrow(0, 0, batch).map_err(torch)?,
        },
        test: Split {
            images: data.test.images.f_narrow(0, 0, 1.min(data.test.len())).map_err(torch)?,
            labels: data.test.labels.f_narrow(0, 0, 1.min(data.test.len())).map_err(torch)?,
        },
        height: data.height,
        width: data.width,
        classes: data.classes,
        spec: data.spec.clone(),
        class_names: None,
    };
    let config = TrainConfig { epochs: 2, ..base.clone() };
    let never = AtomicBool::new(false);
    let mut on_epoch = |_: &EpochMetrics| Ok(());
    let mut hooks = Hooks { out: Output { json: true, quiet: true }, stop: &never, on_epoch: &mut on_epoch };
    let started = Instant::now();
    let trained = train::train(&config, &probe, device, &mut hooks)?;
    let rate = trained.report.epochs.last().map_or(0.0, |e| e.samples_per_second);
    Ok(if rate > 0.0 { 1.0 / rate } else { started.elapsed().as_secs_f64() / batch as f64 })
}

fn human_time(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// Tests the winner once, saves it, and writes the report.
#[allow(clippy::too_many_arguments)]
fn finish(
    config: &SweepConfig,
    test: &Split,
    split: &Dataset,
    base: &TrainConfig,
    device: Device,
    files: &SweepFiles,
    runner: Runner,
    rungs: Vec<Rung>,
    out: Output,
) -> Result<SweepReport> {
    let Runner { finished, best, stopped, .. } = runner;
    // The winner: the best validation accuracy (the longest-trained among equals, so halving's
    // final survivor wins its ties).
    let winner = finished
        .iter()
        // Pruned trials are out, as in optuna: halving's winner is its last survivor.
        .filter(|t| t.validation_accuracy.is_some() && t.status != Status::Pruned)
        .max_by(|a, b| {
            a.score().total_cmp(&b.score()).then(a.epochs.cmp(&b.epochs)).then(b.trial.cmp(&a.trial))
        })
        .cloned();
    let mut test_evaluations = 0;
    let best = match winner {
        None => None,
        Some(winner) => {
            // Its network: kept from this run, or trained again (bit-identical by the seed) when
            // its result came from --resume.
            let trained = match best {
                Some((t, trained)) if t.trial == winner.trial && t.epochs == winner.epochs => trained,
                _ => {
                    let never = AtomicBool::new(false);
                    let mut on_epoch = |_: &EpochMetrics| Ok(());
                    let mut hooks = Hooks {
                        out: Output { json: true, quiet: true },
                        stop: &never,
                        on_epoch: &mut on_epoch,
                    };
                    let train_config =
                        TrainConfig { epochs: winner.epochs, ..winner.config.train_config(base) };
                    train::train(&train_config, split, device, &mut hooks)?
                }
            };
            let x = test.images.f_to_device(device).map_err(torch)?;
            let y = test.labels.f_to_device(device).map_err(torch)?;
            let test = evaluate(&trained.net, &x, &y, split.classes, &trained.normalization)?;
            test_evaluations += 1;
            if let Some(path) = &files.save_best {
                crate::weights::save(path, &trained.net, &trained.normalization, split)?;
                out.note(format!("saved the best trial's weights to {}", path.display()));
            }
            Some(Best {
                trial: winner.trial,
                params: winner.config.json(),
                epochs: winner.epochs,
                validation_accuracy: winner.validation_accuracy.unwrap_or(0.0),
                test_accuracy: test.accuracy,
            })
        }
    };
    // Halving compares configurations at one budget only in its first rung, where all of them
    // trained alike; later rungs hold the survivors alone, trained longer.
    let first_rung: Option<Vec<Trial>> = rungs.first().map(|rung| {
        rung.results
            .iter()
            .filter_map(|&(trial, accuracy)| {
                let t = finished.iter().find(|t| t.trial == trial)?;
                Some(Trial {
                    validation_accuracy: accuracy,
                    status: Status::Ok,
                    epochs: rung.epochs,
                    ..t.clone()
                })
            })
            .collect()
    });
    let mattered_most = mattered_most(&config.space, first_rung.as_deref().unwrap_or(&finished));
    let mut report = SweepReport {
        strategy: config.strategy,
        seed: config.seed,
        space: config.space.json(),
        trials: finished.iter().map(Trial::json).collect(),
        rungs,
        best,
        test_evaluations,
        stopped,
        mattered_most,
        finished,
        text: String::new(),
    };
    report.text = render(&report, &config.space);
    Ok(report)
}

/// For each hyperparameter, the spread of mean validation accuracy across its values (ranges
/// split at their median); the largest spread is what mattered most.
fn mattered_most(space: &Space, trials: &[Trial]) -> Option<String> {
    let ok: Vec<&Trial> =
        trials.iter().filter(|t| t.validation_accuracy.is_some() && t.status != Status::Pruned).collect();
    let scored: Vec<&Trial> =
        if ok.len() >= 2 { ok } else { trials.iter().filter(|t| t.validation_accuracy.is_some()).collect() };
    let mut spreads: Vec<(f64, String)> = Vec::new();
    for (i, (name, domain)) in space.dims.iter().enumerate() {
        let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
        let numeric: Vec<f64> = scored
            .iter()
            .filter_map(|t| match &t.config.0[i].1 {
                Param::Float(v) => Some(*v),
                Param::Int(v) => Some(*v as f64),
                _ => None,
            })
            .collect();
        let median = {
            let mut v = numeric.clone();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        for t in &scored {
            let value = &t.config.0[i].1;
            let label = match (domain, value, median) {
                (Domain::Range { .. }, Param::Float(v), Some(m)) => {
                    if *v < m {
                        format!("< {}", short(m))
                    } else {
                        format!("≥ {}", short(m))
                    }
                }
                (Domain::Range { .. }, Param::Int(v), Some(m)) => {
                    if (*v as f64) < m {
                        format!("< {m}")
                    } else {
                        format!("≥ {m}")
                    }
                }
                _ => value.text(),
            };
            let accuracy = t.validation_accuracy.unwrap_or(0.0);
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, v)) => v.push(accuracy),
                None => groups.push((label, vec![accuracy])),
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let means: Vec<(String, f64)> =
            groups.iter().map(|(l, v)| (l.clone(), v.iter().sum::<f64>() / v.len() as f64)).collect();
        let best = means.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let worst = means.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
        let spread = best.1 - worst.1;
        spreads.push((
            spread,
            format!(
                "{name}: mean validation accuracy {:.2}% with {} {} vs {:.2}% with {} {} (spread {:.2} points)",
                100.0 * best.1,
                flag(name),
                best.0,
                100.0 * worst.1,
                flag(name),
                worst.0,
                100.0 * spread
            ),
        ));
    }
    spreads.into_iter().max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, text)| format!("mattered most: {text}"))
}

fn render(report: &SweepReport, space: &Space) -> String {
    let mut text = String::new();
    let mut sorted: Vec<&Trial> = report.finished.iter().collect();
    sorted.sort_by(|a, b| b.score().total_cmp(&a.score()).then(b.epochs.cmp(&a.epochs)));
    let names: Vec<&str> = space.dims.iter().map(|(n, _)| *n).collect();
    let _ = write!(text, "\n{:>5}", "trial");
    for n in &names {
        let _ = write!(text, " {n:>12}");
    }
    let _ = writeln!(text, " {:>6} {:>10} {:>8}  status", "epochs", "validation", "seconds");
    for t in sorted {
        let _ = write!(text, "{:>5}", t.trial);
        for (_, v) in &t.config.0 {
            let cell = match v {
                Param::Float(x) => short(*x),
                Param::Unused => "-".into(),
                other => other.text(),
            };
            let _ = write!(text, " {cell:>12}");
        }
        let accuracy = t.validation_accuracy.map_or("—".to_string(), |a| format!("{:.2}%", 100.0 * a));
        let _ =
            writeln!(text, " {:>6} {accuracy:>10} {:>8.1}  {}", t.trained_epochs, t.seconds, t.status.name());
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(text, "\nstopped early: {why}; the table holds every finished trial");
    }
    match &report.best {
        Some(b) => {
            let _ = writeln!(
                text,
                "\nbest: trial {} ({} epoch(s)), validation accuracy {:.2}%, test accuracy {:.2}% (the test set's only use)",
                b.trial,
                b.epochs,
                100.0 * b.validation_accuracy,
                100.0 * b.test_accuracy
            );
        }
        None => {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for t in &report.finished {
                match counts.iter_mut().find(|(n, _)| *n == t.status.name()) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((t.status.name(), 1)),
                }
            }
            let counts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
            let _ = writeln!(text, "\nno trial succeeded ({})", counts.join(", "));
        }
    }
    if let Some(m) = &report.mattered_most {
        let _ = writeln!(text, "{m}");
    }
    text
}

/// `sweep --plot`: validation accuracy against each hyperparameter (log axis for a `:log`
/// range), the best trial ringed; for halving, every configuration's accuracy per rung.
pub fn figure(report: &SweepReport, space: &Space) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let scored: Vec<&Trial> = report.finished.iter().filter(|t| t.validation_accuracy.is_some()).collect();
    let best = report.best.as_ref().map(|b| b.trial);
    let mut panels = Vec::new();
    for (i, (name, domain)) in space.dims.iter().enumerate() {
        // Lists of words (widths, optimizers) go on a category axis: index k is choice k.
        let choices = match domain {
            Domain::Hidden(_) | Domain::Optimizers(_) => domain_values(domain, 1),
            _ => Vec::new(),
        };
        let x = |p: &Param| match p {
            Param::Float(v) => *v,
            Param::Int(v) => *v as f64,
            other => choices.iter().position(|c| c == other).map_or(f64::NAN, |k| k as f64),
        };
        let point = |t: &Trial| (x(&t.config.0[i].1), 100.0 * t.validation_accuracy.unwrap_or(0.0));
        let all: Vec<(f64, f64)> = scored.iter().map(|t| point(t)).collect();
        let top: Vec<(f64, f64)> =
            scored.iter().filter(|t| Some(t.trial) == best).map(|t| point(t)).collect();
        let log_x = matches!(domain, Domain::Range { log: true, .. });
        panels.push(Panel::Chart {
            x_categories: choices.iter().map(Param::text).collect(),
            title: format!("validation accuracy vs {}", flag(name)),
            x_label: format!("{}{}", flag(name), if log_x { " (log scale)" } else { "" }),
            y_label: "validation accuracy (%)".into(),
            log_x,
            log_y: false,
            series: vec![
                Series::new("trials", all, Style::Points),
                Series::new("best", top, Style::Highlight),
            ],
            background: Vec::new(),
        });
    }
    if !report.rungs.is_empty() {
        let mut series = Vec::new();
        let trials: Vec<usize> = report.rungs[0].results.iter().map(|r| r.0).collect();
        for t in trials {
            let points: Vec<(f64, f64)> = report
                .rungs
                .iter()
                .filter_map(|r| {
                    // A failed run has no accuracy: it is left out, not drawn at 0 %.
                    r.results
                        .iter()
                        .find(|x| x.0 == t)
                        .and_then(|x| x.1)
                        .map(|a| (r.epochs as f64, 100.0 * a))
                })
                .collect();
            series.push(Series::new(format!("trial {t}"), points, Style::LinePoints));
        }
        panels.push(Panel::Chart {
            x_categories: Vec::new(),
            title: "successive halving: accuracy per rung (the best half goes on)".into(),
            x_label: "epochs trained (log scale)".into(),
            y_label: "validation accuracy (%)".into(),
            log_x: true,
            log_y: false,
            series,
            background: Vec::new(),
        });
    }
    Figure::stacked(900, 340, panels)
}

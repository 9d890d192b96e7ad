//! `nnopt sweep`: hyperparameter search over real training runs — what the notebook points to
//! for everything gradients cannot learn: "Optimization libraries/methods: gridsearch, hyperopt,
//! optuna, NAS". The learning rate, the widths and depth (`--hidden 32,64,128x64`: the smallest
//! form of architecture search), the batch size and the optimizer are searched, not
//! backpropagated.
//!
//! Every trial is a real `train::train` run (in-process, the same code path as `nnopt train`),
//! scored on a validation split carved from the training set (seeded, stratified by class:
//! [`crate::data::split`]); only the winner ever sees the test set, once. One file per idea:
//! [`space`] (what is searched), [`sampler`] (grid, random, TPE behind one ask/tell interface;
//! [`tpe`] its two forms), [`halving`] (successive halving, a scheduler over random draws),
//! [`journal`] (the CSV and `--resume`), [`runner`] (trials, Ctrl-C, the winner), [`trial`],
//! [`report`] (text, JSON, figure); what the trials support saying is judged in
//! [`crate::judge::effects`]. All draw from
//! one generator seeded by `--seed`, so the same flags give the same trials and accuracies.

pub mod figure;
pub mod halving;
pub mod journal;
pub mod parse;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod space;
pub mod tpe;
pub mod trial;

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use tch::Device;

pub use crate::data::split::validation_split;
pub use halving::plan as halving_plan;
pub use journal::SweepFiles;
pub use report::{Best, SweepReport};
pub use space::{Config, Domain, Param, Space};
pub use tpe::TpeForm;
pub use trial::{Status, Trial};

use crate::data::Dataset;
use crate::error::ensure_usage;
use crate::observe::Observer;
use crate::train::TrainConfig;

/// Trials a sweep may ask for.
pub const MAX_TRIALS: usize = 10_000;
/// `--population` when not given, on the CPU.
pub const DEFAULT_POPULATION: usize = 8;
/// `--population` when not given, on a GPU: 64 small networks at batch 128 are one step of 8 192
/// samples, which a GPU runs in about the time of one network's.
pub const DEFAULT_GPU_POPULATION: usize = 64;

/// `--population` when not given, for `device`.
pub fn default_population(device: tch::Device) -> usize {
    if device.is_cuda() {
        DEFAULT_GPU_POPULATION
    } else {
        DEFAULT_POPULATION
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

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Grid => "grid",
            Strategy::Random => "random",
            Strategy::Halving => "halving",
            Strategy::Tpe => "tpe",
        }
    }
}

impl TpeForm {
    pub fn name(self) -> &'static str {
        match self {
            TpeForm::Multivariate => "multivariate",
            TpeForm::Independent => "independent",
        }
    }
}

/// A sweep's settings.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub strategy: Strategy,
    pub space: Space,
    /// Trials for random and tpe; distinct configurations in halving's first rung.
    pub trials: usize,
    /// Points per range for grid.
    pub grid_points: usize,
    /// Random trials before TPE models the results.
    pub startup_trials: usize,
    /// TPE's form: one joint estimator (optuna 5's default) or one per hyperparameter.
    pub tpe: TpeForm,
    /// Epochs of a trial (halving: of the last rung).
    pub epochs: usize,
    pub seed: u64,
    /// Fraction of the training set held out to score trials.
    pub validation: f64,
    /// Stop after the trial in progress once this many minutes have passed.
    pub max_minutes: Option<f64>,
    /// Trials trained together as one batched network ([`crate::population`]): grid and random
    /// draws, and each rung of halving; 1 trains one at a time.
    pub population: usize,
    /// Replay each training step as a CUDA graph (`None`: on for CUDA where it can be).
    pub cuda_graphs: Option<bool>,
    /// TPE's proposals trained together (multivariate form): while a batch trains, its
    /// proposals count as failures for the next ones (optuna's constant liar). 1: TPE asks after
    /// every result.
    pub tpe_batch: usize,
    /// Halving's reduction factor: each rung keeps the best 1/factor and trains them factor
    /// times longer (scikit-learn's `factor`).
    pub factor: usize,
    /// Grid: each configuration trained from this many seeds, so main effects are compared
    /// against the seed noise the replicates measure.
    pub repeats: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            strategy: Strategy::Tpe,
            space: Space::default_search(),
            trials: 12,
            grid_points: 3,
            startup_trials: 4,
            tpe: TpeForm::Multivariate,
            epochs: 3,
            seed: 0,
            validation: 0.1,
            max_minutes: None,
            population: DEFAULT_POPULATION,
            cuda_graphs: None,
            tpe_batch: 1,
            factor: 2,
            repeats: 1,
        }
    }
}

impl SweepConfig {
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
        ensure_usage((1..=256).contains(&self.population), || {
            format!("--population must be between 1 and 256, got {}", self.population)
        })?;
        ensure_usage((1..=10).contains(&self.repeats), || {
            format!("--repeats must be between 1 and 10, got {}", self.repeats)
        })?;
        ensure_usage(self.repeats == 1 || self.strategy == Strategy::Grid, || {
            "--repeats is for --strategy grid: only a grid claims controlled comparisons to measure noise for"
                .to_string()
        })?;
        ensure_usage((2..=16).contains(&self.factor), || {
            format!("--factor must be between 2 and 16, got {}", self.factor)
        })?;
        ensure_usage((1..=256).contains(&self.tpe_batch), || {
            format!("--tpe-batch must be between 1 and 256, got {}", self.tpe_batch)
        })?;
        ensure_usage(
            self.tpe_batch == 1 || (self.strategy == Strategy::Tpe && self.tpe == TpeForm::Multivariate),
            || {
                format!(
                "--tpe-batch {} needs --strategy tpe with --tpe multivariate (the independent form's models \
                 cannot take a provisional result back; grid, random and halving batch with --population)",
                self.tpe_batch
            )
            },
        )?;
        // `--cuda-graphs on` graphs SGD's steps; a space of Adam trials only would ignore it.
        let sgd_possible =
            self.space.dims.iter().filter(|(name, _)| *name == "optimizer").all(|(_, domain)| {
                domain.values(1).contains(&space::Param::Optimizer(crate::train::OptimizerKind::Sgd))
            });
        ensure_usage(self.cuda_graphs != Some(true) || sgd_possible, || {
            "--cuda-graphs on needs SGD trials (Adam's steps cannot be replayed as one graph); add sgd to \
             --optimizer or drop --cuda-graphs"
                .to_string()
        })?;
        if let Some(m) = self.max_minutes {
            ensure_usage(m.is_finite() && m > 0.0, || {
                format!("--max-minutes must be a number > 0, got {m}")
            })?;
        }
        ensure_usage(!self.space.dims.is_empty(), || {
            "the search space is empty: give --lr, --hidden, …".into()
        })?;
        if self.strategy == Strategy::Grid {
            // Counted before it is built: 100 values of four ranges would be 10⁸ points.
            let (count, flags) = self.space.grid_size(self.grid_points);
            ensure_usage(count.is_some_and(|c| c <= MAX_TRIALS), || {
                let product: Vec<String> = flags.iter().map(|(f, k)| format!("{f} ({k} values)")).collect();
                format!(
                    "the grid of {} has more than {MAX_TRIALS} points; lower --grid-points or give fewer values",
                    product.join(" × ")
                )
            })?;
        }
        Ok(())
    }

    /// What every trial starts from: train's defaults, with the sweep's epochs and seed.
    pub fn base(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            seed: self.seed,
            cuda_graphs: self.cuda_graphs,
            ..TrainConfig::default()
        }
    }
}

/// Runs the sweep on `data` (whose test split only the winner sees). It takes the data set
/// because it partitions the training rows in place into training and validation views: a
/// sweep holds the training set once, not twice (Fashion-MNIST: 47 MB).
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use nnopt::data::{load, DataSource};
/// use nnopt::sweep::{run, Space, Strategy, SweepConfig, SweepFiles};
/// let data = load(&DataSource::Synthetic { train: 600, test: 100 })?;
/// let mut space = Space::default();
/// space.add("lr", "0.01,0.1")?;
/// let config = SweepConfig { strategy: Strategy::Grid, space, epochs: 1, ..Default::default() };
/// let never = AtomicBool::new(false);
/// let report = run(&config, data, tch::Device::Cpu, &SweepFiles::default(), &nnopt::observe::Quiet, &never)?;
/// assert_eq!(report.trials.len(), 2);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run(
    config: &SweepConfig,
    data: Dataset,
    device: Device,
    files: &SweepFiles,
    observer: &dyn Observer,
    stop: &AtomicBool,
) -> Result<SweepReport> {
    config.validate()?;
    // A grid's replicates (--repeats) are one more column of the space: the journal, the table,
    // the JSON and the plan all see the same columns.
    let seeded =
        SweepConfig { space: config.space.with_seeds(config.seed, config.repeats), ..config.clone() };
    let config = &seeded;
    let _only = crate::exclusive::enter();
    crate::device::prepare(device);
    let started = Instant::now();
    let base = config.base();
    let (split, test) = validation_split(data, config.validation, config.seed)?;
    let identity = journal::identity(config, &split.spec, device);
    let resumed = files.open(&config.space, &identity, observer)?;
    let mut plan = sampler::plan(config, &base);
    let cost = sampler::probe_cost(config, &base, &split, device, stop)?;
    // Ctrl-C during the timing probe: nothing to estimate, nothing to run.
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    let estimate = if interrupted {
        0.0
    } else {
        started.elapsed().as_secs_f64() + plan.announce(&split, &resumed, cost, observer)
    };
    let mut runner = runner::Runner {
        config,
        base: base.clone(),
        data: &split,
        device,
        observer,
        stop,
        csv: files.csv_path().map(std::path::Path::to_path_buf),
        identity,
        resumed,
        started: Instant::now(),
        finished: Vec::new(),
        best: None,
        stopped: None,
        trained: 0,
        graphed: 0,
    };
    if interrupted {
        runner.stopped = Some("interrupted by a signal before any trial".into());
    }
    observer.start("trials", plan.runs as u64);
    let rungs = plan.execute(&mut runner)?;
    observer.finish();
    report::finish(report::Finish {
        config,
        test: &test,
        split: &split,
        files,
        runner,
        rungs,
        plan,
        estimate,
        started,
        observer,
    })
}

/// Here, not in `report.rs`: the picture (`figure.rs`) reads the report, so the report cannot
/// use it.
impl crate::report::Report for SweepReport {
    fn text(&self) -> String {
        report::render(self)
    }
    /// A sweep where no trial succeeded draws no picture: an empty chart passed off as a result.
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(self.best.is_some().then(|| figure::figure(self)))
    }
}

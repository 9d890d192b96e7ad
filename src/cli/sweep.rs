//! `nnopt sweep`: its flags, the library call, the output.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use nnopt::data::DataSource;
use nnopt::error::usage;
use nnopt::observe::Observer;
use nnopt::plot::Target;
use nnopt::report::Report;
use nnopt::sweep::{self, Space, Strategy, SweepConfig, SweepFiles, TpeForm};

use super::output::Output;
use super::paths::{self, Claims};
use super::shared::OnOff;
use super::shared::{CUDA_GRAPHS_HELP, DATA_HELP};
use super::signals;
use super::Global;

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The Cartesian product of the lists (ranges: --grid-points values).
    Grid,
    /// --trials configurations drawn from the seed.
    Random,
    /// Successive halving as scikit-learn plans it: the best 1/--factor of --trials configurations
    /// train --factor times as long each rung.
    Halving,
    /// Tree-structured Parzen Estimator (optuna's default sampler), after --startup-trials random ones; --tpe picks its form.
    Tpe,
}

/// `--tpe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TpeArg {
    /// One joint estimator over all hyperparameters: values that worked together are proposed together (optuna 5's default).
    Multivariate,
    /// One estimator per hyperparameter (hyperopt's, and optuna's before 5).
    Independent,
}

impl From<StrategyArg> for Strategy {
    fn from(arg: StrategyArg) -> Self {
        match arg {
            StrategyArg::Grid => Strategy::Grid,
            StrategyArg::Random => Strategy::Random,
            StrategyArg::Halving => Strategy::Halving,
            StrategyArg::Tpe => Strategy::Tpe,
        }
    }
}

impl From<Strategy> for StrategyArg {
    fn from(strategy: Strategy) -> Self {
        match strategy {
            Strategy::Grid => StrategyArg::Grid,
            Strategy::Random => StrategyArg::Random,
            Strategy::Halving => StrategyArg::Halving,
            Strategy::Tpe => StrategyArg::Tpe,
        }
    }
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    #[arg(long, value_enum, default_value_t = StrategyArg::from(SweepConfig::default().strategy))]
    pub strategy: StrategyArg,
    /// Trials (random, tpe) or first-rung configurations (halving).
    #[arg(long, default_value_t = SweepConfig::default().trials)]
    pub trials: usize,
    /// Values per range on a grid (log-spaced for :log).
    #[arg(long, default_value_t = SweepConfig::default().grid_points)]
    pub grid_points: usize,
    /// Random trials before TPE starts modelling.
    #[arg(long, default_value_t = SweepConfig::default().startup_trials)]
    pub startup_trials: usize,
    /// TPE's form.
    #[arg(long, value_enum, default_value = "multivariate")]
    pub tpe: TpeArg,
    /// TPE proposals trained together (multivariate TPE): while a batch trains, its proposals
    /// count as failed trials for the next ones (optuna's constant liar for parallel TPE), and
    /// the batch trains as a population. 1 asks after every result.
    #[arg(long, value_name = "K", default_value_t = SweepConfig::default().tpe_batch)]
    pub tpe_batch: usize,
    /// Learning rates: a list or a range, e.g. 1e-3..1:log [default search: 0.001..1:log and --hidden 16,32,64].
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<String>,
    /// SGD momentum values (Adam trials leave it unused).
    #[arg(long, allow_hyphen_values = true)]
    pub momentum: Option<String>,
    /// Weight decay values.
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<String>,
    /// Batch sizes (whole numbers; a range samples whole numbers).
    #[arg(long, allow_hyphen_values = true)]
    pub batch_size: Option<String>,
    /// Hidden layer choices, comma-separated; a multi-layer choice joins widths with x: 32,64,256x128
    /// (widths and depths searched together: the smallest form of neural architecture search).
    #[arg(long, allow_hyphen_values = true)]
    pub hidden: Option<String>,
    /// Optimizers: sgd,adam.
    #[arg(long)]
    pub optimizer: Option<String>,
    #[arg(long, help = format!(
        "Epochs per trial (halving: the most a configuration can get; its rungs may end below it, \
         as scikit-learn's do) [default: {}; halving: as many as its rungs need, at least that]",
        SweepConfig::default().epochs
    ))]
    pub epochs: Option<usize>,
    #[arg(long, default_value = nnopt::data::DEFAULT_SPEC, help = DATA_HELP)]
    pub data: String,
    /// Halving: each rung keeps the best 1/FACTOR of its configurations and trains them FACTOR
    /// times longer (scikit-learn's default is 3).
    #[arg(long, default_value_t = SweepConfig::default().factor)]
    pub factor: usize,
    /// Grid: train each configuration from R seeds (--seed, +1, …); main effects then compare
    /// the replicates' means against the seed noise they measure (without it, the winner is
    /// retrained with two more seeds).
    #[arg(long, value_name = "R", default_value_t = SweepConfig::default().repeats)]
    pub repeats: usize,
    /// Seed of the strategy, the validation split and every trial's initial weights.
    #[arg(long, default_value_t = SweepConfig::default().seed)]
    pub seed: u64,
    /// Fraction of the training set held out to score trials (stratified by class).
    #[arg(long, default_value_t = SweepConfig::default().validation)]
    pub validation: f64,
    /// Append one row per finished trial here, flushed as each ends.
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Continue the sweep recorded in this CSV: finished trials are not run again.
    #[arg(long, value_name = "FILE.csv")]
    pub resume: Option<PathBuf>,
    /// Save the best trial's weights (the format of train --save).
    #[arg(long, value_name = "FILE.safetensors")]
    pub save_best: Option<PathBuf>,
    /// Start no new trial once this many minutes have passed (the first trial always runs, and
    /// trials that started together as a population finish).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Trials trained at once as one batched network (grid and random draws, each rung of
    /// halving, TPE's --tpe-batch proposals): members share each step's kernels, and each ends
    /// as its solo run would, to float rounding. 1 trains one at a time. [default: 8 on the
    /// CPU, 64 on a GPU]
    #[arg(long, value_name = "K")]
    pub population: Option<usize>,
    #[arg(long, value_enum, value_name = "on|off", help = CUDA_GRAPHS_HELP)]
    pub cuda_graphs: Option<OnOff>,
    /// Draw validation accuracy against each hyperparameter (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
}

/// The sweep `args` ask for on `device`, validated: the command's and `nnopt lab`'s.
pub fn config(args: &SweepArgs, device: tch::Device) -> Result<SweepConfig> {
    let mut space = Space::default();
    let given = [
        ("lr", &args.lr),
        ("momentum", &args.momentum),
        ("weight_decay", &args.weight_decay),
        ("batch_size", &args.batch_size),
        ("hidden", &args.hidden),
        ("optimizer", &args.optimizer),
    ];
    for (name, value) in given {
        if let Some(text) = value {
            space.add(name, text)?;
        }
    }
    if space.dims.is_empty() {
        space = Space::default_search();
    }
    let config = SweepConfig {
        strategy: args.strategy.into(),
        space,
        trials: args.trials,
        grid_points: args.grid_points,
        startup_trials: args.startup_trials,
        tpe: match args.tpe {
            TpeArg::Multivariate => TpeForm::Multivariate,
            TpeArg::Independent => TpeForm::Independent,
        },
        // Halving doubles the epochs each rung: by default its last rung gets what its rungs
        // need (at most 16 epochs; more trials then get fewer rungs).
        epochs: args.epochs.unwrap_or_else(|| {
            let default = SweepConfig::default().epochs;
            if args.strategy == StrategyArg::Halving {
                sweep::halving::default_epochs(args.trials, default, args.factor)
            } else {
                default
            }
        }),
        seed: args.seed,
        validation: args.validation,
        max_minutes: args.max_minutes,
        population: args.population.unwrap_or_else(|| sweep::default_population(device)),
        cuda_graphs: args.cuda_graphs.map(OnOff::on),
        tpe_batch: args.tpe_batch,
        factor: args.factor,
        repeats: args.repeats,
    };
    config.validate()?;
    Ok(config)
}

pub fn run(args: SweepArgs, global: &Global, out: &Output) -> Result<()> {
    let device = global.device.resolve()?;
    let mut config = config(&args, device)?;
    let save_best = args.save_best.is_some();
    let source = DataSource::parse(&args.data)?;
    let mut files = SweepFiles { csv: args.csv, resume: args.resume, save_best: args.save_best };
    let plot = claim_sweep_files(&mut files, &source, args.plot.as_deref())?;
    // Trials may be Adam (eager); the device and the shim are checked here, before the data loads,
    // once for all the trials: a shim that cannot load is an error where --cuda-graphs on asked
    // for it, and otherwise one warning and a sweep of eager trials.
    if nnopt::cuda_graph::wanted(config.cuda_graphs, device, true, nnopt::cuda_shim::built_in())? {
        if let Err(e) = nnopt::cuda_shim::load_shim() {
            if config.cuda_graphs == Some(true) {
                return Err(e.context("--cuda-graphs on: CUDA graphs cannot run here; use --cuda-graphs off"));
            }
            out.warn(&format!("CUDA graphs are unavailable ({e:#}); the trials train eagerly"));
            config.cuda_graphs = Some(false);
        }
    }
    out.note(&format!("loading {source}…"));
    let data = nnopt::data::load(&source)?;
    let stop = signals::stop_flag(out.quiet);
    let report = sweep::run(&config, data, device, &files, out, stop)?;
    // A sweep where no trial succeeded draws no picture (an empty chart passed off as a
    // result); the table still prints and says why every trial failed. With --save-best it
    // fails outright: what was asked for cannot be written.
    let failed = report.best.is_none();
    match (plot.as_ref(), report.figure()?) {
        (Some(target), Some(figure)) => {
            figure.save(target)?;
            out.wrote("--plot", &target.path);
        }
        (Some(target), None) => {
            out.warn(&format!("no trial succeeded, so --plot {} was not drawn", target.path.display()))
        }
        _ => {}
    }
    out.report(&report)?;
    if let Some(signal) = signals::received() {
        let finished = report.trials.iter().filter(|t| t.status.settled() && !t.resumed).count();
        let by = signals::name(signal);
        // Only what is so: a journal there to continue, and what this run added to it.
        let said = match files.csv_path().filter(|j| j.is_file()) {
            Some(journal) => format!(
                "nnopt: stopped by {by}: {finished} trial(s) finished in this run, kept in {}; continue with --resume {0}",
                journal.display()
            ),
            None if finished == 0 => format!("nnopt: stopped by {by} before any trial finished"),
            None => format!("nnopt: stopped by {by}: {finished} trial(s) finished (no --csv: the table above is their record)"),
        };
        out.note(&said);
    }
    if failed && save_best {
        match &report.stopped {
            Some(why) => out.warn(&format!("{why}: --save-best has no weights to write")),
            None => anyhow::bail!(
                "no trial succeeded, so --save-best has no weights to write; {}",
                nnopt::judge::sweep::no_winner_advice(&report.trials)
            ),
        }
    }
    Ok(())
}

/// `sweep`'s files, each named once: `--resume X --csv X` (however spelled) continues X; a
/// `--csv` that would overwrite another sweep's record is refused (continue it with
/// `--resume`); no output over the journal read, the data, or another output.
fn claim_sweep_files(
    files: &mut SweepFiles,
    source: &DataSource,
    plot: Option<&Path>,
) -> Result<Option<Target>> {
    let claims = &mut Claims::default();
    for file in source.files() {
        claims.input("--data", &file)?;
    }
    if let Some(resume) = &files.resume {
        if resume.is_dir() {
            return Err(usage(format!(
                "--resume {}: is a directory; give the journal file (the --csv of the sweep to continue)",
                resume.display()
            )));
        }
        if !resume.exists() {
            return Err(usage(format!("--resume {}: no such file", resume.display())));
        }
        if !resume.is_file() {
            return Err(usage(format!(
                "--resume {}: not a regular file (a FIFO, a device); give the journal file",
                resume.display()
            )));
        }
        if files.csv.as_deref().is_some_and(|csv| paths::same_file(csv, resume)) {
            files.csv = None; // one file: continue it
        }
        match files.csv {
            Some(_) => claims.input("--resume", resume)?,
            // Read, then appended to: it must be writable too, known before any training.
            None => claims.output("--resume", Some(resume))?,
        }
    }
    claims.output("--csv", files.csv.as_deref())?;
    if let Some(path) = &files.csv {
        // An empty file holds no record to lose.
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            // Continuing it is advice only for a journal: any other file is simply taken.
            let journal = std::fs::read(path).is_ok_and(|b| b.starts_with(b"# nnopt sweep:"));
            return Err(usage(match journal {
                true => format!(
                    "--csv {}: the file exists; continue it with --resume {0}, or choose another name",
                    path.display()
                ),
                false => format!(
                    "--csv {}: the file exists and is not a sweep journal; choose another name",
                    path.display()
                ),
            }));
        }
    }
    claims.output("--save-best", files.save_best.as_deref())?;
    claims.picture("--plot", plot)
}

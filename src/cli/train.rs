//! `nnopt train` as a command: check the output paths, load the data, train with a line per
//! epoch (the library's [`nnopt::train::train`] reports them through the observer), write the
//! metrics after every epoch, save, draw, report.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use nnopt::data::{self, DataSource};
use nnopt::fsutil::write_atomic;
use nnopt::judge::training::Save;
use nnopt::observe::Observer;
use nnopt::plot::Target;
use nnopt::report::Report;
use nnopt::train::{self, EpochMetrics, Hooks, OptimizerKind, Schedule, Stop, TrainConfig};
use tch::Device;

use super::output::Output;
use super::paths::Claims;
use super::shared::OnOff;
use super::shared::{CUDA_GRAPHS_HELP, DATA_HELP};
use super::{signals, Global};

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[arg(long, default_value = nnopt::data::DEFAULT_SPEC, help = DATA_HELP)]
    pub data: String,
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Images per SGD step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch_size: i64,
    #[arg(long, help = format!(
        "Initial learning rate, decayed along a cosine over the epochs [default: {} for sgd, {} for adam]",
        OptimizerKind::Sgd.default_lr(),
        OptimizerKind::Adam.default_lr()
    ))]
    pub lr: Option<f64>,
    #[arg(long, help = format!(
        "SGD momentum, Nesterov when > 0 [default: {}]; not with --optimizer adam",
        nnopt::train::DEFAULT_MOMENTUM
    ))]
    pub momentum: Option<f64>,
    /// L2 weight decay.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    pub weight_decay: f64,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// Hidden layer widths, comma-separated: 32 (the notebook's 784-32-10) or 256,128.
    #[arg(long, value_delimiter = ',', default_values_t = TrainConfig::default().hidden)]
    pub hidden: Vec<i64>,
    #[arg(long, value_enum, default_value_t = OptimizerArg::from(TrainConfig::default().optimizer))]
    pub optimizer: OptimizerArg,
    /// How the learning rate moves: cosine (from --lr towards 0 over the epochs) or constant
    /// (the notebook's plain optim.SGD: --momentum 0 --weight-decay 0 --schedule constant --lr 0.05).
    #[arg(long, value_enum, default_value = "cosine")]
    pub schedule: ScheduleArg,
    /// One batch per epoch: a quick check that everything runs.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, help = super::shared::CODE_HELP)]
    pub code: bool,
    /// Train on the first N training images only (the normalization still uses all of them).
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    /// Print the running training loss on stderr every N batches (0: never).
    #[arg(long, default_value_t = TrainConfig::default().log_interval)]
    pub log_interval: usize,
    /// Read the loss back to the host every N batches [default: 1 on CPU, 64 on CUDA]; a
    /// divergence is found when it is read, and the epoch's starting weights are restored.
    #[arg(long, value_name = "N")]
    pub sync_every: Option<usize>,
    #[arg(long, value_enum, value_name = "on|off", help = CUDA_GRAPHS_HELP)]
    pub cuda_graphs: Option<OnOff>,
    /// Save the trained weights here (safetensors, PyTorch's parameter names).
    #[arg(long, value_name = "FILE.safetensors")]
    pub save: Option<PathBuf>,
    /// Write the per-epoch metrics here as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub metrics: Option<PathBuf>,
    /// Draw the train and test loss and the test accuracy per epoch (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Draw the final confusion matrix as a heat map (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub confusion: Option<PathBuf>,
    /// Write the final confusion matrix as CSV (rows: true class, columns: predicted).
    #[arg(long, value_name = "FILE.csv")]
    pub confusion_csv: Option<PathBuf>,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// lr_t = lr·(1 + cos(π·(t − 1)/T))/2.
    Cosine,
    /// lr_t = lr.
    Constant,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// SGD with Nesterov momentum and weight decay.
    Sgd,
    /// Adam.
    Adam,
}

impl From<OptimizerArg> for OptimizerKind {
    fn from(arg: OptimizerArg) -> Self {
        match arg {
            OptimizerArg::Sgd => OptimizerKind::Sgd,
            OptimizerArg::Adam => OptimizerKind::Adam,
        }
    }
}

impl From<OptimizerKind> for OptimizerArg {
    fn from(kind: OptimizerKind) -> Self {
        match kind {
            OptimizerKind::Sgd => OptimizerArg::Sgd,
            OptimizerKind::Adam => OptimizerArg::Adam,
        }
    }
}

pub fn run(args: TrainArgs, global: &Global, out: &Output) -> Result<()> {
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        optimizer: args.optimizer.into(),
        schedule: match args.schedule {
            ScheduleArg::Cosine => nnopt::train::Schedule::Cosine,
            ScheduleArg::Constant => nnopt::train::Schedule::Constant,
        },
        seed: args.seed,
        hidden: args.hidden,
        dry_run: args.dry_run,
        log_interval: args.log_interval,
        limit: args.limit,
        sync_every: args.sync_every,
        cuda_graphs: args.cuda_graphs.map(OnOff::on),
    };
    let source = DataSource::parse(&args.data)?;
    // Every file named once: no output over another, none over the data it reads.
    let claims = &mut Claims::default();
    for file in source.files() {
        claims.input("--data", &file)?;
    }
    claims.output("--save", args.save.as_deref())?;
    claims.output("--metrics", args.metrics.as_deref())?;
    claims.output("--confusion-csv", args.confusion_csv.as_deref())?;
    let files = Files {
        save: args.save,
        metrics: args.metrics,
        plot: claims.picture("--plot", args.plot.as_deref())?,
        confusion: claims.picture("--confusion", args.confusion.as_deref())?,
        confusion_csv: args.confusion_csv,
    };
    let device = global.device.resolve()?;
    // A flag that cannot apply is refused before the data loads.
    let sgd = config.optimizer == OptimizerKind::Sgd;
    nnopt::cuda_graph::wanted(config.cuda_graphs, device, sgd, nnopt::cuda_shim::built_in())?;
    // The programs: one epoch of plain SGD (lr 0.05, batch 128) on Fashion-MNIST from seed 0.
    let mut differs = super::shared::differing(&[
        ("--epochs", config.epochs as f64, 1.0),
        ("--lr", config.lr.unwrap_or(config.optimizer.default_lr()), 0.05),
        ("--momentum", config.momentum.unwrap_or(nnopt::train::DEFAULT_MOMENTUM), 0.0),
        ("--weight-decay", config.weight_decay, 0.0),
        ("--batch-size", config.batch_size as f64, 128.0),
        ("--seed", config.seed as f64, 0.0),
    ]);
    let fashion = DataSource::parse("fashion")?;
    for (flag, value, same) in [
        ("--data", args.data.clone(), source == fashion),
        (
            "--schedule",
            format!("{:?}", config.schedule).to_lowercase(),
            config.schedule == Schedule::Constant,
        ),
        (
            "--optimizer",
            format!("{:?}", config.optimizer).to_lowercase(),
            config.optimizer == OptimizerKind::Sgd,
        ),
        ("--hidden", format!("{:?}", config.hidden), config.hidden == [32]),
    ] {
        if !same {
            differs.push(format!("{flag} {value}"));
        }
    }
    super::shared::show_code(args.code, (nnopt::code::Listing::Train, 0), differs, out)?;
    train_and_report(&config, &source, &files, device, out)
}

/// Where `nnopt train` writes besides stdout.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The trained weights (safetensors).
    pub save: Option<PathBuf>,
    /// The per-epoch metrics (CSV), rewritten atomically after every epoch.
    pub metrics: Option<PathBuf>,
    /// Loss and accuracy per epoch, drawn.
    pub plot: Option<Target>,
    /// The confusion matrix, drawn.
    pub confusion: Option<Target>,
    /// The confusion matrix as CSV.
    pub confusion_csv: Option<PathBuf>,
}

fn train_and_report(
    config: &TrainConfig,
    source: &DataSource,
    files: &Files,
    device: Device,
    out: &Output,
) -> Result<()> {
    // Before the data loads (seconds for Fashion-MNIST): a bad flag is said at once.
    config.validate()?;
    out.note(&format!("loading {source}…"));
    let data = data::load(source)?;
    let stop = signals::stop_flag(out.quiet);
    out.line(&format!(
        "data: {} — {} training and {} test images of {}×{}, {} classes",
        data.name,
        data.train.len(),
        data.test.len(),
        data.height,
        data.width,
        data.classes
    ));
    out.line(&format!("recipe: {}", config.recipe()));
    let mut done: Vec<EpochMetrics> = Vec::new();
    let mut on_epoch = |m: &EpochMetrics| {
        done.push(m.clone());
        match &files.metrics {
            Some(path) => write_atomic(path, train::metrics_csv(&done).as_bytes()),
            None => Ok(()),
        }
    };
    let mut hooks = Hooks { observer: out, stop, on_epoch: &mut on_epoch };
    let trained = train::train(config, &data, device, &mut hooks)?;
    let whole = trained.report.epochs.iter().filter(|e| e.complete).count();
    let diverged = matches!(trained.report.stop, Stop::Diverged { .. });
    let mut said = Vec::new();
    if let Some(path) = &files.save {
        let save = Save::after(&trained.report.stop, whole, path.exists());
        if save.writes() {
            nnopt::weights::save(path, &trained.net, &trained.normalization, &data)?;
        }
        match save.sentence("--save", path) {
            Some(sentence) => said.push(sentence),
            None => out.note(&format!("saved the weights to {}", path.display())),
        }
    }
    // A failed run draws nothing: no picture of a failure passed off as a result.
    let not_drawn: Vec<String> = [
        ("--plot", files.plot.as_ref().map(|t| t.path.as_path())),
        ("--confusion", files.confusion.as_ref().map(|t| t.path.as_path())),
        ("--confusion-csv", files.confusion_csv.as_deref()),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.map(|p| format!("{flag} {}", p.display())))
    .collect();
    if diverged && !not_drawn.is_empty() {
        said.push(nnopt::judge::training::not_drawn(&not_drawn));
    }
    if let Some(path) = files.metrics.as_ref().filter(|_| !trained.report.epochs.is_empty()) {
        out.wrote("--metrics", path);
    }
    // Said on stderr and in --json's warnings alike (the output keeps every warning).
    for sentence in said {
        out.warn(&sentence);
    }
    let report = &trained.report;
    if !diverged {
        if let (Some(target), Some(figure)) = (&files.plot, report.figure()?) {
            figure.save(target)?;
            out.wrote("--plot", &target.path);
        }
        if let Some(target) = &files.confusion {
            train::confusion_figure(report).save(target)?;
            out.wrote("--confusion", &target.path);
        }
        if let Some(path) = &files.confusion_csv {
            let csv = nnopt::metrics::confusion_csv(
                &report.final_metrics.confusion_matrix,
                report.data.class_names.as_deref(),
            );
            write_atomic(path, csv.as_bytes())?;
            out.wrote("--confusion-csv", path);
        }
    }
    out.report(report)?;
    out.chart("train loss", &report.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>());
    match (&report.stop, report.stop.describe(report.config.config.initial_lr())) {
        (Stop::Diverged { .. }, Some(why)) => bail!("{why}"),
        (Stop::Interrupted { .. }, Some(why)) => {
            let by = signals::received().map_or("a signal", signals::name);
            let metrics = files.metrics.as_ref().map(|p| format!(" (in --metrics {})", p.display()));
            out.note(&format!(
                "nnopt: {why}, by {by}; {}{}",
                kept(&report.epochs),
                metrics.unwrap_or_default()
            ))
        }
        // A signal that came as the last epoch was being evaluated: nothing was cut.
        (Stop::Finished, _) if signals::received().is_some() => out.note(&format!(
            "nnopt: {} came as the run finished: every epoch is whole and kept",
            signals::received().map_or("a signal", signals::name)
        )),
        _ => {}
    }
    Ok(())
}

/// What a run a signal stopped kept: its whole epochs and the one cut short, evaluated.
fn kept(epochs: &[EpochMetrics]) -> String {
    let whole = epochs.iter().filter(|e| e.complete).count();
    match epochs.iter().find(|e| !e.complete) {
        Some(cut) => format!(
            "kept {whole} whole epoch(s) and {} batch(es) of epoch {}, evaluated and marked partial",
            cut.batches, cut.epoch
        ),
        None => format!("kept {whole} whole epoch(s)"),
    }
}

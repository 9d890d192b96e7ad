//! The command line, the binary's side of nnopt: clap types mapped onto the library's plain
//! config structs, and everything only a program does — printing ([`output`]), checking output
//! paths before work starts ([`paths`]), the panic hook and Ctrl-C ([`process`]). `--json`,
//! `--csv` and `--plot` are handled once for every command ([`emit`]), through the library's
//! [`Report`] shape.

pub mod output;
pub mod paths;
pub mod process;
pub mod tour;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use nnopt::autograd::AutogradConfig;
use nnopt::classify::{self, PredictInput};
use nnopt::data::DataSource;
use nnopt::descent::{self, DescentConfig, Optimizer, Surface};
use nnopt::device::DeviceSpec;
use nnopt::error::usage;
use nnopt::mlp::MlpConfig;
use nnopt::observe::Observer;
use nnopt::perceptron::PerceptronConfig;
use nnopt::report::Report;
use nnopt::sweep::{self, Space, Strategy, SweepConfig, SweepFiles, TpeForm};
use nnopt::train::{OptimizerKind, TrainConfig};
use nnopt::{autograd, info, mlp, perceptron};
use output::Output;

/// nnopt — the notebook "Introduction to neural networks optimization" on libtorch, in Rust.
///
/// Each subcommand is one part of the notebook and prints what the notebook prints, with the
/// same numbers PyTorch gives for the same seed.
#[derive(Debug, Parser)]
#[command(name = "nnopt", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Where tensors live: auto (CUDA 0 if libtorch sees a GPU, else CPU), cpu, cuda, cuda:N, mps.
    /// A device that is not available is an error, never a silent fallback.
    #[arg(long, global = true, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceSpec,
    /// Print one JSON document on stdout and nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or diagnostics on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// libtorch's CPU threads [default: the physical cores this process may use].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The notebook from top to bottom: each part's idea, its rule, and its output, in order.
    ///
    /// Runs each part's own command (shown as `$ nnopt …`, to copy), small enough that the whole
    /// tour takes under a minute on two cores (about 6 s when they are idle). On a terminal it waits between parts (Enter to go
    /// on, q to stop); piped, it runs straight through.
    Tour(tour::TourArgs),
    /// Notebook part 1 (tour part 2): a regressor perceptron trained by the delta rule, written by hand.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED). Unlike the
    /// notebook, w and b never require grad and are updated in place, so no autograd graph grows
    /// behind the updates: flat memory however long it trains.
    Perceptron(PerceptronArgs),
    /// Notebook part 2 (tour part 3): a = relu(w·x + b) and its gradients through autograd (torch.autograd.grad).
    Autograd(AutogradArgs),
    /// Notebook part 3 (tour part 4): an nn.Module-style MLP (784 → 32 → 10), backpropagation, one SGD step.
    ///
    /// Same numbers as the notebook's PyTorch code after torch.manual_seed(SEED): every random
    /// tensor is drawn on the CPU and then moved to --device, so all devices start alike.
    Mlp(MlpArgs),
    /// Optimizers on loss surfaces: trapped in a local minimum, escaping it, diverging, stalling.
    ///
    /// Each surface is a libtorch expression differentiated by autograd (float64); gd is the
    /// notebook's hand-written rule, the others libtorch's optimizers. With no flags: on the
    /// cosine surface, gd stays in the local minimum where SGD with momentum reaches the global one.
    Descent(DescentArgs),
    /// Train the notebook's MLP on real images (minibatch SGD, cross-entropy), report each epoch.
    ///
    /// Without --data it trains on built-in synthetic digits (no download); --data fashion uses
    /// Debian's Fashion-MNIST; any directory of MNIST-layout IDX files (raw or .gz) works.
    /// Ctrl-C stops after the current batch, evaluates, and saves if --save was given.
    Train(TrainArgs),
    /// Hyperparameter search over real training runs: grid, random, successive halving, TPE.
    ///
    /// Give a list (--lr 0.01,0.1) or a range (--lr 1e-3..1:log) for any of --lr, --momentum,
    /// --weight-decay, --batch-size, --hidden (32,64,256x128), --optimizer (sgd,adam). Trials are
    /// scored on a validation split of the training set; only the winner meets the test set.
    Sweep(SweepArgs),
    /// Accuracy and confusion matrix of saved weights on a data set's test split.
    Evaluate(EvaluateArgs),
    /// Classify one image with saved weights: a test image (--index) or a PGM/PNG file (--image).
    Predict(PredictArgs),
    /// Versions, where libtorch was loaded from, and which GPUs libtorch sees.
    Info,
    /// Print a shell completion script: `nnopt completions bash > ~/.local/share/bash-completion/completions/nnopt`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

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
}

/// `--graph` and `--graph-dot`, on the commands that build a graph.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Print the whole backward graph (an indented tree read from libtorch, leaves named).
    #[arg(long)]
    pub graph: bool,
    /// Write the backward graph as Graphviz DOT (render with `dot -Tsvg FILE.dot`); also prints
    /// it, as --graph does.
    #[arg(long, value_name = "FILE.dot")]
    pub graph_dot: Option<PathBuf>,
    /// Draw the backward graph as a picture, laid out by nnopt (.png or .svg; no Graphviz
    /// needed); also prints it, as --graph does.
    #[arg(long, value_name = "FILE.png|svg")]
    pub graph_image: Option<PathBuf>,
}

impl GraphArgs {
    /// Whether the report needs the graph, after refusing an unwritable DOT path up front.
    fn wanted(&self) -> Result<bool> {
        if let Some(path) = &self.graph_dot {
            paths::ensure_writable("--graph-dot", path)?;
        }
        paths::picture("--graph-image", self.graph_image.as_deref())?;
        Ok(self.graph || self.graph_dot.is_some() || self.graph_image.is_some())
    }

    /// Writes the DOT file and the picture, where asked.
    fn write(&self, graph: Option<&nnopt::graph::Graph>, title: &str) -> Result<()> {
        let Some(graph) = graph else { return Ok(()) };
        if let Some(path) = &self.graph_dot {
            nnopt::graph::write_dot(path, graph)?;
        }
        if let Some(target) = paths::picture("--graph-image", self.graph_image.as_deref())? {
            graph.figure(title).save(&target)?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct PerceptronArgs {
    /// Seed for libtorch's generator (torch.manual_seed); draws w, then the training noise, then
    /// the test noise.
    #[arg(long, default_value_t = PerceptronConfig::default().seed)]
    pub seed: u64,
    /// Learning rate of the delta rule.
    #[arg(long, default_value_t = PerceptronConfig::default().lr)]
    pub lr: f64,
    /// Passes over the training set in all (the notebook: one train_step, then 100 epochs).
    #[arg(long, default_value_t = PerceptronConfig::default().epochs)]
    pub epochs: usize,
    /// Training samples N: X = arange(3N).reshape(N, 3) + N(0, 2) noise, y = arange(N).
    #[arg(long, default_value_t = PerceptronConfig::default().samples)]
    pub samples: usize,
    /// Print every Nth epoch's parameters and loss (and the first and last); --json, --csv and
    /// --plot keep every epoch.
    #[arg(long, value_name = "N", default_value_t = PerceptronConfig::default().print_every)]
    pub every: usize,
    /// Also run the notebook's own form (w and b require grad, replaced out of place) and print
    /// how many autograd nodes pile up behind w after 1, 2, 10 and 100 updates.
    #[arg(long)]
    pub graph: bool,
    /// Draw the loss per epoch and the parameters per epoch (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write the loss and the parameters per epoch as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

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
    /// Draw fc1's weight rows as 28×28 images, before and after the SGD step (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write fc1's weights before and after the SGD step as CSV (unit, pixel, before, after).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

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

fn run_descent(args: DescentArgs, global: &Global, out: &Output) -> Result<()> {
    if args.list {
        return out.report(&descent::list()?);
    }
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
        lr: args.lr,
        momentum: args.momentum,
        steps: args.steps,
        start,
        starts: args.starts,
        seed: args.seed,
        tol: args.tol,
    };
    config.validate()?;
    let files = Files::new(args.csv.as_deref(), args.plot.as_deref())?;
    let report = descent::run(&config, global.device.resolve()?, out)?;
    emit(&report, out, &files)?;
    for run in &report.runs {
        out.chart(&format!("{:<8} f", descent::report::run_label(run, &report.runs)), &run.losses);
    }
    Ok(())
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The Cartesian product of the lists (ranges: --grid-points values).
    Grid,
    /// --trials configurations drawn from the seed.
    Random,
    /// Successive halving: the best half of --trials configurations train twice as long each rung.
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
        "Epochs per trial (halving: of the last rung) [default: {}; halving: as many as its rungs need, \
         at least that]",
        SweepConfig::default().epochs
    ))]
    pub epochs: Option<usize>,
    #[arg(long, default_value = nnopt::data::DEFAULT_SPEC, help = DATA_HELP)]
    pub data: String,
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

fn run_sweep(args: SweepArgs, global: &Global, out: &Output) -> Result<()> {
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
    let device = global.device.resolve()?;
    let mut config = SweepConfig {
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
                sweep::halving::default_epochs(args.trials, default)
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
    };
    config.validate()?;
    let save_best = args.save_best.is_some();
    let files = SweepFiles { csv: args.csv, resume: args.resume, save_best: args.save_best };
    check_sweep_files(&files)?;
    let plot = paths::picture("--plot", args.plot.as_deref())?;
    let source = DataSource::parse(&args.data)?;
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
    let stop = process::ctrl_c_flag(out.quiet);
    let report = sweep::run(&config, data, device, &files, out, &stop)?;
    // A sweep where no trial succeeded draws no picture (an empty chart passed off as a
    // result); the table still prints and says why every trial failed. With --save-best it
    // fails outright: what was asked for cannot be written.
    let failed = report.best.is_none();
    match (plot.as_ref(), report.figure()?) {
        (Some(target), Some(figure)) => figure.save(target)?,
        (Some(target), None) => {
            out.warn(&format!("no trial succeeded, so --plot {} was not drawn", target.path.display()))
        }
        _ => {}
    }
    out.report(&report)?;
    if failed && save_best {
        match &report.stopped {
            Some(why) => out.warn(&format!("{why}: --save-best has no weights to write")),
            None => anyhow::bail!(
                "no trial succeeded, so --save-best has no weights to write; lower --lr or widen the search"
            ),
        }
    }
    Ok(())
}

/// `--data`: shared by train, evaluate and predict.
const DATA_HELP: &str = "Data: a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte, \
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz; MNIST, Fashion-MNIST, KMNIST…), \
`fashion` (Debian's dataset-fashion-mnist), or `synthetic` (built-in synthetic digits, \
60000 + 10000; synthetic:TRAIN,TEST for other sizes)";

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

/// `--cuda-graphs`.
const CUDA_GRAPHS_HELP: &str = "Replay each training step as one CUDA graph (captured once per learning \
rate and batch shape; a sweep's population reads its rates from a tensor) instead of launching its ~30 kernels one by one \
[default: on for SGD on CUDA, in a build with CUDA graphs: see nnopt info]";

/// `--cuda-graphs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(self) -> bool {
        self == OnOff::On
    }
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

/// `--data` for evaluate and predict: the weights' own data set when not given.
const WEIGHTS_DATA_HELP: &str = "The data set to use [default: the one the weights were trained on, \
as recorded in the weights file]: a directory of MNIST-layout IDX files, `fashion`, or `synthetic`";

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EvaluateArgs {
    /// Weights saved by `nnopt train --save`.
    #[arg(long, value_name = "FILE.safetensors")]
    pub weights: PathBuf,
    #[arg(long, help = WEIGHTS_DATA_HELP)]
    pub data: Option<String>,
    /// Run on --data even where its classes are not the weights' (digits weights on garments);
    /// the class names printed are then the weights'.
    #[arg(long)]
    pub other_data: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct PredictArgs {
    /// Weights saved by `nnopt train --save`.
    #[arg(long, value_name = "FILE.safetensors")]
    pub weights: PathBuf,
    #[arg(long, help = WEIGHTS_DATA_HELP, conflicts_with = "image")]
    pub data: Option<String>,
    /// Which test image of --data to classify.
    #[arg(long, conflicts_with = "image", required_unless_present = "image")]
    pub index: Option<i64>,
    /// A PGM or PNG image instead, of the training images' size: colour becomes grey, transparency
    /// its background, and dark ink on light is inverted to match the training images.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Keep --image's pixels as they are, even on a light background.
    #[arg(long, requires = "image", conflicts_with = "index")]
    pub no_invert: bool,
    /// Run on --data even where its classes are not the weights' (their names are printed).
    #[arg(long, conflicts_with = "image")]
    pub other_data: bool,
    /// Draw the image beside its class probabilities (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write the class probabilities as CSV (class, name, probability, predicted).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

fn run_train(args: TrainArgs, global: &Global, out: &Output) -> Result<()> {
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
    let files = train::Files {
        save: args.save,
        metrics: args.metrics,
        plot: paths::picture("--plot", args.plot.as_deref())?,
        confusion: paths::picture("--confusion", args.confusion.as_deref())?,
        confusion_csv: args.confusion_csv,
    };
    let source = DataSource::parse(&args.data)?;
    let device = global.device.resolve()?;
    // A flag that cannot apply is refused before the data loads.
    let sgd = config.optimizer == OptimizerKind::Sgd;
    nnopt::cuda_graph::wanted(config.cuda_graphs, device, sgd, nnopt::cuda_shim::built_in())?;
    train::run(&config, &source, &files, device, out)
}

/// `--data` when given.
fn data_flag(data: Option<String>) -> Result<Option<DataSource>> {
    data.as_deref().map(DataSource::parse).transpose()
}

/// The files a command's result goes to besides stdout (`--csv`, `--plot`), checked before
/// any work starts.
struct Files {
    csv: Option<PathBuf>,
    plot: Option<nnopt::plot::Target>,
}

impl Files {
    fn new(csv: Option<&Path>, plot: Option<&Path>) -> Result<Self> {
        paths::writable(&[("--csv", csv)])?;
        Ok(Files { csv: csv.map(Path::to_path_buf), plot: paths::picture("--plot", plot)? })
    }
}

/// Writes `--plot` and `--csv` where asked and prints the report (text, or `--json`): the one
/// way every command ends.
fn emit<R: Report>(report: &R, out: &Output, files: &Files) -> Result<()> {
    if let (Some(target), Some(figure)) = (&files.plot, report.figure()?) {
        figure.save(target)?;
    }
    if let (Some(path), Some(csv)) = (&files.csv, report.csv()) {
        nnopt::fsutil::write_atomic(path, csv.as_bytes())?;
    }
    out.report(report)
}

/// `sweep`'s output paths: writable, and a `--csv` that would overwrite another sweep's record
/// refused (continue it with `--resume`).
fn check_sweep_files(files: &SweepFiles) -> Result<()> {
    paths::writable(&[("--save-best", files.save_best.as_deref()), ("--csv", files.csv.as_deref())])?;
    if let Some(path) = &files.csv {
        let same = files.resume.as_ref().is_some_and(|r| r == path);
        if path.exists() && !same {
            return Err(usage(format!(
                "--csv {}: the file exists; continue it with --resume {0}, or choose another name",
                path.display()
            )));
        }
    }
    if let Some(path) = &files.resume {
        if !path.is_file() {
            return Err(usage(format!("--resume {}: no such file", path.display())));
        }
    }
    Ok(())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let out = &Output::new(cli.global.json, cli.global.quiet);
    nnopt::device::set_threads(cli.global.threads)?;
    match cli.command {
        Command::Info => out.report(&info::collect()),
        Command::Completions { shell } => {
            // A script, not a result: there is no JSON form of it.
            if out.json {
                return Err(usage("--json: completions prints a shell script, not JSON; drop --json"));
            }
            // Generated into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "nnopt", &mut script);
            out.raw(&script)
        }
        Command::Autograd(args) => {
            let config = AutogradConfig { x: args.x, w: args.w, b: args.b, graph: args.graph.wanted()? };
            let report = autograd::run(&config, cli.global.device.resolve()?)?;
            args.graph.write(report.backward_graph.as_ref(), "the backward graph of a = relu(w·x + b)")?;
            out.report(&report)
        }
        Command::Perceptron(args) => {
            let config = PerceptronConfig {
                seed: args.seed,
                lr: args.lr,
                epochs: args.epochs,
                samples: args.samples,
                graph: args.graph,
                print_every: args.every,
            };
            let files = Files::new(args.csv.as_deref(), args.plot.as_deref())?;
            let report = perceptron::run(&config, cli.global.device.resolve()?, out)?;
            emit(&report, out, &files)?;
            out.chart("loss", &report.history.iter().map(|h| h.loss).collect::<Vec<_>>());
            Ok(())
        }
        Command::Mlp(args) => {
            let config =
                MlpConfig { seed: args.seed, lr: args.lr, hidden: args.hidden, graph: args.graph.wanted()? };
            let files = Files::new(args.csv.as_deref(), args.plot.as_deref())?;
            let report = mlp::run(&config, cli.global.device.resolve()?)?;
            args.graph.write(report.backward_graph.as_ref(), "the backward graph of the MLP's MSE loss")?;
            emit(&report, out, &files)
        }
        Command::Tour(args) => tour::run_tour(args, &cli.global, out),
        Command::Descent(args) => run_descent(args, &cli.global, out),
        Command::Train(args) => run_train(args, &cli.global, out),
        Command::Sweep(args) => run_sweep(args, &cli.global, out),
        Command::Evaluate(args) => {
            let data = data_flag(args.data)?;
            let device = cli.global.device.resolve()?;
            let report = classify::evaluate(&args.weights, data.as_ref(), device, args.other_data, out)?;
            out.report(&report)
        }
        Command::Predict(args) => {
            let input = match (args.image, args.index) {
                (Some(image), _) => PredictInput::Image(image),
                (None, Some(index)) => PredictInput::Index { source: data_flag(args.data)?, index },
                (None, None) => return Err(usage("predict needs --index N or --image FILE")),
            };
            let device = cli.global.device.resolve()?;
            let files = Files::new(args.csv.as_deref(), args.plot.as_deref())?;
            let options = classify::PredictOptions { other_data: args.other_data, no_invert: args.no_invert };
            let report = classify::predict(&args.weights, &input, device, options, out)?;
            emit(&report, out, &files)
        }
    }
}

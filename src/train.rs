//! Training the notebook's `Network` on real images — the step the notebook describes ("an
//! image classification problem … 28x28 pixels, 10 classes") but never takes.
//!
//! The recipe: inputs normalized with the training set's mean and std, cross-entropy on the
//! logits, minibatch SGD with Nesterov momentum 0.9 and weight decay 5e-4, batch 128, lr 0.05
//! decayed along a cosine over the epochs (PyTorch's `CosineAnnealingLR` stepped per epoch),
//! 20 epochs, the training set reshuffled every epoch from the seed. Adam is the alternative.
//! Given the same seed and device, a run is repeatable to the bit.

use std::f64::consts::PI;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::backprop::Backprop;
use crate::data::{Dataset, Normalization};
use crate::error::{ensure_positive, ensure_usage, guard, torch, usage};
use crate::flat::{self, FlatSgd};
use crate::metrics::evaluate;
use crate::mlp::{parameter_count, Network, MAX_PARAMETERS};
use crate::observe::Observer;

/// How the learning rate moves over the epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// lr_t = lr·(1 + cos(π·(t − 1)/T))/2: from lr towards 0 (PyTorch's `CosineAnnealingLR`,
    /// stepped per epoch).
    #[default]
    Cosine,
    /// lr_t = lr every epoch: the notebook's `optim.SGD(net.parameters(), lr=0.05)`.
    Constant,
}

/// The optimizer to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (Nesterov) momentum and weight decay.
    Sgd,
    /// Adam with weight decay added to the gradient (as `torch.optim.Adam(weight_decay=…)`).
    Adam,
}

impl OptimizerKind {
    /// The learning rate that suits the optimizer when none is given.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.05,
            OptimizerKind::Adam => 1e-3,
        }
    }
}

/// SGD's momentum when `--momentum` is not given.
pub const DEFAULT_MOMENTUM: f64 = 0.9;
/// Epochs whose training loss has not moved (relative change below [`STALL_TOLERANCE`]) after
/// which a run is declared stalled: it is learning nothing.
pub const STALL_EPOCHS: usize = 3;
/// Accuracy within this of always guessing the most common class is chance level.
pub const CHANCE_MARGIN: f64 = 0.01;
/// A relative change of the epoch's mean training loss smaller than this is no change: the same
/// per-sample losses summed in another batch order differ by about 1e-7.
pub const STALL_TOLERANCE: f64 = 1e-5;

/// A training run's settings; the defaults are the recipe above.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: i64,
    /// The initial learning rate; `None`: the optimizer's default ([`OptimizerKind::default_lr`]).
    pub lr: Option<f64>,
    /// SGD's momentum; `None`: [`DEFAULT_MOMENTUM`] for SGD. Adam takes none (its β₁ is fixed).
    pub momentum: Option<f64>,
    pub weight_decay: f64,
    pub optimizer: OptimizerKind,
    /// How the learning rate moves over the epochs.
    pub schedule: Schedule,
    pub seed: u64,
    /// Hidden layer widths: `[32]` is the notebook's 784-32-10.
    pub hidden: Vec<i64>,
    /// One batch per epoch: a smoke test of the whole pipeline.
    pub dry_run: bool,
    /// Report the running training loss every this many batches on stderr (0: never).
    pub log_interval: usize,
    /// Train on the first this many training images only (a slice, for quick runs and
    /// benchmarks); `None`: all of them.
    pub limit: Option<i64>,
    /// Read the batches' losses back to the host every this many batches; `None`: the device's
    /// default ([`default_sync_every`]). Divergence is detected when they are read.
    pub sync_every: Option<usize>,
    /// Replay the training step as a CUDA graph ([`crate::cuda_graph`]); `None`: on for SGD on
    /// CUDA where this binary carries the shim, off otherwise. Not reported with the settings
    /// (the run's `cuda_graphs` says what ran).
    #[serde(skip)]
    pub cuda_graphs: Option<bool>,
}

/// How often the host reads the loss back when `--sync-every` is not given: every batch on the
/// CPU, where reading it costs nothing and a diverging run stops at the batch that diverged;
/// every 64 batches on a GPU, where each read waits for the GPU's queue to drain.
pub fn default_sync_every(device: Device) -> usize {
    if device.is_cuda() {
        64
    } else {
        1
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 128,
            lr: None,
            momentum: None,
            weight_decay: 5e-4,
            schedule: Schedule::Cosine,
            optimizer: OptimizerKind::Sgd,
            seed: 0,
            hidden: vec![32],
            dry_run: false,
            log_interval: 0,
            limit: None,
            sync_every: None,
            cuda_graphs: None,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train, naming the flag, and fills in the optimizer's
    /// defaults (lr, momentum): the config a run uses and reports.
    pub fn validate(&self) -> Result<TrainConfig> {
        ensure_usage((1..=100_000).contains(&self.epochs), || {
            format!("--epochs must be between 1 and 100000, got {}", self.epochs)
        })?;
        ensure_usage((1..=1 << 20).contains(&self.batch_size), || {
            format!("--batch-size must be between 1 and 1048576, got {}", self.batch_size)
        })?;
        let lr = self.lr.unwrap_or(self.optimizer.default_lr());
        ensure_positive("--lr", lr)?;
        // The optimizers hold their settings in float32 (libtorch refuses larger values mid-run).
        ensure_usage(lr <= f32::MAX as f64, || format!("--lr {lr:e} does not fit float32 (at most 3.4e38)"))?;
        let momentum = match (self.optimizer, self.momentum) {
            (OptimizerKind::Adam, Some(m)) => {
                return Err(usage(format!(
                    "--momentum {m} applies to --optimizer sgd only; Adam keeps its own moment \
                     estimates (β₁ = 0.9); drop --momentum or use --optimizer sgd"
                )))
            }
            (OptimizerKind::Adam, None) => None,
            (OptimizerKind::Sgd, m) => Some(m.unwrap_or(DEFAULT_MOMENTUM)),
        };
        if let Some(m) = momentum {
            ensure_usage((0.0..1.0).contains(&m), || format!("--momentum must be in [0, 1), got {m}"))?;
        }
        if let Some(n) = self.sync_every {
            ensure_usage(n >= 1, || {
                "--sync-every must be at least 1 (batches between loss reads)".to_string()
            })?;
        }
        if let Some(limit) = self.limit {
            ensure_usage(limit >= 1, || format!("--limit must be at least 1, got {limit}"))?;
        }
        let wd = self.weight_decay;
        ensure_usage(wd.is_finite() && (0.0..=f32::MAX as f64).contains(&wd), || {
            format!("--weight-decay must be a finite number ≥ 0 that fits float32, got {wd}")
        })?;
        ensure_usage(!self.hidden.is_empty() && self.hidden.len() <= 8, || {
            format!("--hidden takes 1 to 8 widths, got {}", self.hidden.len())
        })?;
        for &h in &self.hidden {
            ensure_usage((1..=crate::mlp::MAX_HIDDEN).contains(&h), || {
                format!("--hidden widths must be between 1 and {}, got {h}", crate::mlp::MAX_HIDDEN)
            })?;
        }
        // The hidden layers alone (the input and output layers are checked with the data).
        let inner = parameter_count(&self.hidden);
        ensure_usage(inner <= MAX_PARAMETERS, || {
            format!("--hidden {:?}: {inner} parameters between the hidden layers alone, more than {MAX_PARAMETERS}; use narrower layers", self.hidden)
        })?;
        Ok(TrainConfig { lr: Some(lr), momentum, ..self.clone() })
    }

    /// The initial learning rate (the optimizer's default when none was given).
    pub fn initial_lr(&self) -> f64 {
        self.lr.unwrap_or(self.optimizer.default_lr())
    }

    /// The learning rate for `epoch` (1-based): by the schedule, from `lr`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Cosine => {
                self.initial_lr() * 0.5 * (1.0 + (PI * (epoch - 1) as f64 / self.epochs as f64).cos())
            }
            Schedule::Constant => self.initial_lr(),
        }
    }

    /// The recipe in words and formulas, as `train` states it above its epochs: the update rule
    /// the optimizer applies and how the learning rate moves.
    pub fn recipe(&self) -> String {
        let lr = self.initial_lr();
        let decay = self.weight_decay;
        let update = match (self.optimizer, self.momentum.unwrap_or(DEFAULT_MOMENTUM)) {
            (OptimizerKind::Sgd, mu) if mu > 0.0 => format!(
                "SGD with Nesterov momentum μ = {mu} and weight decay λ = {decay}: g ← ∇L + λ·θ; v ← μ·v + g; \
                 θ ← θ − lr_t·(g + μ·v)"
            ),
            (OptimizerKind::Sgd, _) if decay == 0.0 => {
                "plain SGD, as the notebook's optim.SGD: θ ← θ − lr_t·∇L".to_string()
            }
            (OptimizerKind::Sgd, _) => format!("plain SGD with weight decay λ = {decay}: θ ← θ − lr_t·(∇L + λ·θ)"),
            (OptimizerKind::Adam, _) => format!(
                "Adam (β₁ 0.9, β₂ 0.999, ε 1e-8) with weight decay λ = {decay} added to the gradient: \
                 g ← ∇L + λ·θ; m ← β₁·m + (1 − β₁)·g; s ← β₂·s + (1 − β₂)·g²; \
                 θ ← θ − lr_t·m̂/(√ŝ + ε)"
            ),
        };
        let schedule = match self.schedule {
            Schedule::Cosine => format!(
                "cosine schedule lr_t = {lr}·(1 + cos(π·(t − 1)/{}))/2 for epoch t: {lr} at the first epoch, {:.5} at the last",
                self.epochs,
                self.lr_at(self.epochs)
            ),
            Schedule::Constant => format!("constant lr_t = {lr}"),
        };
        format!("{update}; {schedule}; loss L = cross-entropy of the logits, batches of {}", self.batch_size)
    }
}

/// One epoch's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
    pub samples_per_second: f64,
}

/// What was trained on.
#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    pub name: String,
    pub train_samples: i64,
    pub test_samples: i64,
    pub height: i64,
    pub width: i64,
    pub classes: i64,
    pub class_names: Option<Vec<String>>,
    pub mean: f64,
    pub std: f64,
}

impl DataInfo {
    /// A picture's title for the data: Fashion-MNIST by name where it was recognized from its
    /// labels, a directory by its last component (not the machine's whole path).
    pub fn title(&self) -> String {
        let fashion: Vec<String> = crate::data::FASHION_CLASSES.iter().map(|s| s.to_string()).collect();
        if self.class_names.as_ref() == Some(&fashion) {
            return "Fashion-MNIST".to_string();
        }
        let path = std::path::Path::new(&self.name);
        match path.file_name() {
            Some(last) if path.is_dir() => last.to_string_lossy().into_owned(),
            _ => self.name.clone(),
        }
    }
}

/// The final test results.
#[derive(Debug, Clone, Serialize)]
pub struct FinalMetrics {
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub confusion_matrix: Vec<Vec<i64>>,
}

/// Settings as run: the config with its defaults filled in, plus the device and the layer
/// widths it resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    #[serde(flatten)]
    pub config: TrainConfig,
    pub device: String,
    pub widths: Vec<i64>,
    /// Whether the training step was replayed as a CUDA graph (shown only where it was).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cuda_graphs: bool,
}

/// Why training ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "lowercase")]
pub enum Stop {
    /// All epochs ran.
    Finished,
    /// Ctrl-C: the batch in progress finished, then the epoch was evaluated.
    Interrupted { epoch: usize, batch: i64 },
    /// The training loss became NaN or infinite; the weights from the start of the epoch were
    /// restored. The run fails (exit 1) after reporting.
    Diverged { epoch: usize, batch: i64, loss: f64 },
    /// The training loss has not moved since the first epoch: nothing is being learned.
    Stalled { epoch: usize },
    /// Every test image gets the same output: no hidden unit is active for any input (dead
    /// ReLUs), so the network can only predict one class and no gradient reaches fc1.
    Dead { epoch: usize },
}

impl Stop {
    /// The sentence a person reads; `None` for a run that finished.
    pub fn describe(&self, config: &TrainConfig) -> Option<String> {
        let lr = config.initial_lr();
        match *self {
            Stop::Finished => None,
            Stop::Interrupted { epoch, batch } => {
                Some(format!("interrupted (Ctrl-C) at epoch {epoch}, batch {batch}"))
            }
            Stop::Diverged { epoch, batch, loss } => Some(format!(
                "the training loss became {loss} at epoch {epoch}, batch {batch}; kept the weights from the \
                 start of epoch {epoch}; lower --lr (it was {lr})"
            )),
            Stop::Dead { epoch } => Some(format!(
                "the network died at epoch {epoch}: it gives every image the same output (its ReLUs are 0 \
                 for every input), so it predicts one class and can no longer learn; lower --lr (it was {lr})"
            )),
            Stop::Stalled { epoch } => Some(format!(
                "the training loss has not changed since epoch 1 (stopped after epoch {epoch}): the network \
                 learns nothing at --lr {lr}; raise --lr (or lower it, if the units died), or check the data"
            )),
        }
    }
}

/// A whole run, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub config: RunConfig,
    pub data: DataInfo,
    pub epochs: Vec<EpochMetrics>,
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    /// Why training ended.
    pub stop: Stop,
    /// What the user must know to trust the result (a stall); also printed on stderr.
    pub warnings: Vec<String>,
    /// The final accuracy is no better than always predicting the most common class.
    pub at_chance: bool,
}

/// A trained network with what is needed to use and save it.
pub struct Trained {
    pub vs: nn::VarStore,
    pub net: Network,
    pub normalization: Normalization,
    pub report: TrainReport,
}

/// Hooks into a run: output (epoch lines, progress, warnings), a stop flag (Ctrl-C), and a
/// callback after every epoch (the metrics CSV); an error from it stops the run.
pub struct Hooks<'a> {
    /// Hears the epoch lines, the progress of each epoch's batches and the warnings.
    pub observer: &'a dyn Observer,
    pub stop: &'a AtomicBool,
    pub on_epoch: &'a mut dyn FnMut(&EpochMetrics) -> Result<()>,
}

/// Bytes a run will allocate beyond the raw images already loaded: the normalized float32
/// copies of both splits, the parameters with their gradients, optimizer state and the
/// per-epoch snapshot, and the activations of a batch and of an evaluation chunk.
pub fn estimate_bytes(config: &TrainConfig, data: &Dataset, widths: &[i64]) -> u64 {
    let images = (data.train.len() + data.test.len()) as u64 * data.features() as u64 * 4;
    let state = match config.optimizer {
        OptimizerKind::Sgd => 1,
        OptimizerKind::Adam => 2,
    };
    let parameters = parameter_count(widths) as u64 * 4 * (3 + state);
    let units: u64 = widths.iter().map(|&w| w as u64).sum();
    let activations = (config.batch_size as u64 * 3 + 4096 * 2) * units * 4;
    images + parameters + activations
}

/// Memory this process can still take: `MemAvailable` from /proc/meminfo (Linux); `None` where
/// it cannot be read (then nothing is refused up front).
pub(crate) fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a network too large for nnopt or a run that cannot fit in memory, with the figures.
fn check_size(config: &TrainConfig, data: &Dataset, widths: &[i64], device: Device) -> Result<()> {
    let parameters = parameter_count(widths);
    ensure_usage(parameters <= MAX_PARAMETERS, || {
        format!(
            "--hidden {:?}: the network {widths:?} has {parameters} parameters, more than {MAX_PARAMETERS}; use narrower layers",
            config.hidden
        )
    })?;
    let needed = estimate_bytes(config, data, widths);
    // libtorch reports no free GPU memory through tch; there an allocation failure is caught and
    // reported as it happens.
    if device == Device::Cpu {
        if let Some(available) = available_memory() {
            let mib = |b: u64| b / (1 << 20);
            ensure_usage(needed <= available, || {
                format!(
                    "this run needs about {} MiB (data, network {widths:?}, optimizer state, activations) but \
                     only {} MiB are available; lower --hidden or --batch-size, or use a smaller --data",
                    mib(needed),
                    mib(available)
                )
            })?;
        }
    }
    Ok(())
}

/// What a run steps: SGD over the network's parameters in one flat buffer ([`crate::flat`]:
/// the same numbers as libtorch's SGD over each parameter, in a few kernels for all) on
/// gradients written out by [`crate::backprop`] (autograd's numbers, without its graph), or
/// tch's Adam on autograd's.
enum Updater {
    Flat(FlatSgd, Backprop),
    Adam(nn::Optimizer),
}

impl Updater {
    /// The configured optimizer over `net`'s parameters.
    fn new(config: &TrainConfig, vs: &nn::VarStore, net: &Network) -> Result<Self> {
        let lr = config.initial_lr();
        match config.optimizer {
            OptimizerKind::Sgd => {
                let momentum = config.momentum.unwrap_or(DEFAULT_MOMENTUM);
                let parameters: Vec<Tensor> = net.parameters().into_iter().map(|(_, p)| p).collect();
                let sgd = flat::Sgd {
                    lr,
                    momentum,
                    dampening: 0.0,
                    weight_decay: config.weight_decay,
                    nesterov: momentum > 0.0,
                };
                let backprop = Backprop::new(parameters[0].device())?;
                Ok(Updater::Flat(FlatSgd::new(&parameters, sgd)?, backprop))
            }
            OptimizerKind::Adam => Ok(Updater::Adam(
                nn::Adam { wd: config.weight_decay, ..Default::default() }.build(vs, lr).map_err(torch)?,
            )),
        }
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        match self {
            Updater::Flat(sgd, _) => sgd.set_lr(lr),
            Updater::Adam(adam) => guard("setting the learning rate", || adam.set_lr(lr)),
        }
    }

    /// One step on a batch: the mean cross-entropy of `net` on `inputs` against `targets`, its
    /// gradients, the update. Returns the loss, detached.
    fn step_on(&mut self, net: &Network, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        match self {
            Updater::Flat(sgd, backprop) => {
                // The gradients autograd would give, written straight into the flat buffer.
                let loss = backprop.loss_and_gradients(net, inputs, targets, sgd.grads())?;
                sgd.step()?;
                Ok(loss)
            }
            Updater::Adam(adam) => {
                // Cross-entropy on the logits, as tch's `cross_entropy_for_logits`, through fallible calls.
                let loss = net
                    .f_forward(inputs)?
                    .f_log_softmax(-1, Kind::Float)
                    .and_then(|l| l.f_nll_loss(targets, None::<Tensor>, tch::Reduction::Mean, -100))
                    .map_err(torch)?;
                guard("zero_grad", || adam.zero_grad())?;
                loss.f_backward().map_err(torch)?;
                guard("the optimizer step", || adam.step())?;
                loss.f_detach().map_err(torch)
            }
        }
    }
}

/// Reads the `pending` losses of the batches up to `done` (1-based, inclusive) of `epoch`. On a
/// non-finite one, restores `net` to the epoch's starting weights (`snapshot`) — undoing the
/// diverged batch's step and any taken after it — and returns the `Diverged` stop naming it.
#[allow(clippy::too_many_arguments)]
fn settle(
    pending: &mut Vec<(Tensor, i64)>,
    loss_sum: &mut f64,
    seen: &mut i64,
    epoch: usize,
    done: i64,
    net: &Network,
    snapshot: &[Tensor],
) -> Result<Option<Stop>> {
    let first = done - pending.len() as i64;
    let Some((k, loss)) = read_losses(pending, loss_sum, seen)? else { return Ok(None) };
    tch::no_grad(|| {
        for ((_, mut p), good) in net.parameters().into_iter().zip(snapshot) {
            p.f_copy_(good).map_err(torch)?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Some(Stop::Diverged { epoch, batch: first + k as i64 + 1, loss }))
}

/// Reads the `pending` batches' losses back to the host — one transfer — and adds the finite
/// ones, in order, to the epoch's sum (`loss_sum`, over `seen` images). Returns the first
/// non-finite one, if any: its index among them and its value. The values are the float32
/// losses widened to f64, exactly what reading each alone gives.
fn read_losses(
    pending: &mut Vec<(Tensor, i64)>,
    loss_sum: &mut f64,
    seen: &mut i64,
) -> Result<Option<(usize, f64)>> {
    let values: Vec<f64> = match &pending[..] {
        [(loss, _)] => vec![loss.f_double_value(&[]).map_err(torch)?],
        many => {
            let losses: Vec<&Tensor> = many.iter().map(|(l, _)| l).collect();
            Tensor::f_stack(&losses, 0)
                // To the CPU first: not every device has float64 (MPS), and half the bytes move.
                .and_then(|t| t.f_to_device(Device::Cpu))
                .and_then(|t| t.f_to_kind(Kind::Double))
                .and_then(|t| Vec::<f64>::try_from(&t))
                .map_err(torch)?
        }
    };
    let lens: Vec<i64> = pending.drain(..).map(|(_, len)| len).collect();
    for (k, (value, len)) in values.into_iter().zip(lens).enumerate() {
        if !value.is_finite() {
            return Ok(Some((k, value)));
        }
        *loss_sum += value * len as f64;
        *seen += len;
    }
    Ok(None)
}

/// True when the first `STALL_EPOCHS` epochs' training losses are all the first one's.
pub(crate) fn stalled(epochs: &[EpochMetrics]) -> bool {
    let Some(first) = epochs.first() else { return false };
    epochs.len() >= STALL_EPOCHS
        && epochs
            .iter()
            .all(|e| (e.train_loss - first.train_loss).abs() <= STALL_TOLERANCE * first.train_loss.abs())
}

/// Trains a fresh `Network` on `data` with `config`, on `device`.
pub fn train(config: &TrainConfig, data: &Dataset, device: Device, hooks: &mut Hooks) -> Result<Trained> {
    crate::device::prepare(device);
    let config = &config.validate()?;
    let sync_every = config.sync_every.unwrap_or_else(|| default_sync_every(device));
    let config = &TrainConfig { sync_every: Some(sync_every), ..config.clone() };
    let widths: Vec<i64> =
        std::iter::once(data.features()).chain(config.hidden.iter().copied()).chain([data.classes]).collect();
    check_size(config, data, &widths, device)?;
    let normalization = Normalization::fit(&data.train.images)?;
    let splits = Splits::on(data, config.limit, &normalization, device)?;
    let Splits { n, y_train, x_test, y_test, .. } = &splits;
    let n = *n;

    tch::manual_seed(config.seed as i64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &widths)?;
    guard("moving the network to --device", || vs.set_device(device))?;
    let graphs = crate::cuda_graph::wanted(
        config.cuda_graphs,
        device,
        config.optimizer == OptimizerKind::Sgd,
        crate::cuda_graph::built_in(),
    )?;
    // Graphs are captured on a side stream; the whole run (eager steps, evaluation) stays on it.
    let stream = crate::cuda_graph::start(graphs, config.cuda_graphs, device, hooks.observer)?;
    let mut graphed = stream.as_ref().map(|_| crate::cuda_graph::GraphedStep::default());
    let mut opt = Updater::new(config, &vs, &net)?;

    let batches = if config.dry_run { 1 } else { (n + config.batch_size - 1) / config.batch_size };
    let mut epochs = Vec::new();
    let mut stop = Stop::Finished;
    let mut last_test = None;
    'epochs: for epoch in 1..=config.epochs {
        let started = Instant::now();
        let lr = config.lr_at(epoch);
        opt.set_lr(lr)?;
        // The weights this epoch starts from: what is kept if the loss diverges.
        let snapshot: Vec<Tensor> = net
            .parameters()
            .iter()
            .map(|(_, p)| p.f_detach_copy())
            .collect::<Result<_, _>>()
            .map_err(torch)?;
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu)).f_to_device(device).map_err(torch)?;
        hooks.observer.start(&format!("epoch {epoch}/{}", config.epochs), batches as u64);
        let (mut loss_sum, mut seen) = (0.0, 0i64);
        // The losses of batches not yet read back, with their sizes: reading one makes the host
        // wait for the device, so on a GPU they are read `sync_every` at a time.
        let mut pending: Vec<(Tensor, i64)> = Vec::new();
        for batch in 0..batches {
            let start = batch * config.batch_size;
            let idx = order.f_narrow(0, start, config.batch_size.min(n - start)).map_err(torch)?;
            let len = idx.size()[0];
            // One step on the batch `idx` selects: gather and normalize on the device, forward,
            // backward, update. Nothing in it reads back to the host, so it can be captured.
            let mut step = |idx: &Tensor| -> Result<Tensor> {
                let inputs = splits.inputs(idx, &normalization)?;
                let targets = y_train.f_index_select(0, idx).map_err(torch)?;
                opt.step_on(&net, &inputs, &targets)
            };
            // The learning rate is baked into the captured update: a new rate, a new capture.
            let loss = match graphed.as_mut() {
                Some(g) => g.run(&idx, lr.to_bits(), &mut step)?,
                None => step(&idx)?,
            };
            pending.push((loss, len));
            let log_due =
                config.log_interval > 0 && ((batch + 1) as usize).is_multiple_of(config.log_interval);
            hooks.observer.advance();
            // Ctrl-C stops once the batch in progress is trained; its loss is read first.
            let interrupted = hooks.stop.load(Ordering::Relaxed);
            if pending.len() >= sync_every || batch + 1 == batches || log_due || interrupted {
                let settled =
                    settle(&mut pending, &mut loss_sum, &mut seen, epoch, batch + 1, &net, &snapshot)?;
                if let Some(diverged) = settled {
                    stop = diverged;
                    hooks.observer.finish();
                    break 'epochs;
                }
            }
            if log_due {
                hooks.observer.note(&format!(
                    "epoch {epoch} [{seen}/{n} ({:.0}%)] train loss {:.6}",
                    100.0 * seen as f64 / n as f64,
                    loss_sum / seen as f64
                ));
            }
            if interrupted {
                stop = Stop::Interrupted { epoch, batch: batch + 1 };
                break;
            }
        }
        hooks.observer.finish();
        let train_seconds = started.elapsed().as_secs_f64();
        let test = evaluate(&net, x_test, y_test, data.classes, &normalization)?;
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            seconds: started.elapsed().as_secs_f64(),
            samples_per_second: seen as f64 / train_seconds.max(1e-9),
        };
        hooks.observer.line(&format!(
            "epoch {:>3}/{}  lr {:.5}  train loss {:.4}  test loss {:.4}  test accuracy {:.2}%  {:.1} s  {:.0} samples/s",
            metrics.epoch,
            config.epochs,
            metrics.lr,
            metrics.train_loss,
            metrics.test_loss,
            100.0 * metrics.test_accuracy,
            metrics.seconds,
            metrics.samples_per_second
        ));
        (hooks.on_epoch)(&metrics)?;
        epochs.push(metrics);
        last_test = Some(test);
        if stop != Stop::Finished {
            break;
        }
        if last_test.as_ref().is_some_and(|t: &crate::metrics::Evaluation| t.output_spread == 0.0) {
            stop = Stop::Dead { epoch };
            break;
        }
        if epoch < config.epochs && stalled(&epochs) {
            stop = Stop::Stalled { epoch };
            break;
        }
    }
    let cuda_graphs = crate::cuda_graph::replayed(graphed.as_ref(), hooks.observer);
    let run = Run { config, data, device, splits: &splits, widths, normalization, cuda_graphs };
    conclude(run, vs, net, epochs, stop, last_test, hooks.observer)
}

/// A run's data on its device, moved there once: the first `n` training images and their labels
/// and the test split. On the CPU the images stay bytes and each batch is normalized as it is
/// drawn — a float copy of 60 000 images would be 188 MB for nothing. On a GPU, where memory is
/// plentiful and every kernel launch counts, they are normalized once: each batch is then one
/// gather instead of a gather and four elementwise kernels. The same elementwise arithmetic either
/// way, so the same numbers.
pub(crate) struct Splits {
    /// Training images used (`--limit`).
    pub n: i64,
    pub x_train: Tensor,
    /// `x_train` normalized (float32), on GPUs only.
    pub x_train_normalized: Option<Tensor>,
    pub y_train: Tensor,
    pub x_test: Tensor,
    pub y_test: Tensor,
}

impl Splits {
    pub(crate) fn on(
        data: &Dataset,
        limit: Option<i64>,
        normalization: &Normalization,
        device: Device,
    ) -> Result<Self> {
        let n = limit.map_or(data.train.len(), |l| l.min(data.train.len()));
        let first = |t: &Tensor| t.f_narrow(0, 0, n).and_then(|t| t.f_to_device(device)).map_err(torch);
        let x_train = first(&data.train.images)?;
        let x_train_normalized =
            if device.is_cuda() { Some(normalization.apply(&x_train, device)?) } else { None };
        Ok(Splits {
            n,
            x_train,
            x_train_normalized,
            y_train: first(&data.train.labels)?,
            x_test: data.test.images.f_to_device(device).map_err(torch)?,
            y_test: data.test.labels.f_to_device(device).map_err(torch)?,
        })
    }

    /// The normalized training images `idx` selects, flattened: the network's input.
    pub(crate) fn inputs(&self, idx: &Tensor, normalization: &Normalization) -> Result<Tensor> {
        match &self.x_train_normalized {
            Some(normalized) => normalized.f_index_select(0, idx).map_err(torch),
            None => normalization
                .apply(&self.x_train.f_index_select(0, idx).map_err(torch)?, self.x_train.device()),
        }
    }
}

/// What a finished run needs to write its report, besides its network and epochs.
pub(crate) struct Run<'a> {
    pub config: &'a TrainConfig,
    pub data: &'a Dataset,
    pub device: Device,
    pub splits: &'a Splits,
    pub widths: Vec<i64>,
    pub normalization: Normalization,
    /// The steps were replayed as CUDA graphs.
    pub cuda_graphs: bool,
}

/// Ends a run, solo or one member of a population: a run that finished without moving is
/// stalled, the final weights are scored on the test split (again, where divergence restored
/// older ones), a stall, a dead network or chance-level accuracy is warned about, and the
/// report is written.
pub(crate) fn conclude(
    run: Run,
    vs: nn::VarStore,
    net: Network,
    epochs: Vec<EpochMetrics>,
    mut stop: Stop,
    last_test: Option<crate::metrics::Evaluation>,
    observer: &dyn Observer,
) -> Result<Trained> {
    let Run { config, data, device, splits, widths, normalization, cuda_graphs } = run;
    let n = splits.n;
    if stop == Stop::Finished && stalled(&epochs) {
        stop = Stop::Stalled { epoch: epochs.len() };
    }

    // The last epoch's evaluation is of the final weights, unless divergence restored older ones.
    let test = match last_test {
        Some(test) if !matches!(stop, Stop::Diverged { .. }) => test,
        _ => evaluate(&net, &splits.x_test, &splits.y_test, data.classes, &normalization)?,
    };
    let mut warnings = Vec::new();
    if let (Stop::Stalled { .. } | Stop::Dead { .. }, Some(why)) = (&stop, stop.describe(config)) {
        observer.warn(&why);
        warnings.push(why);
    }
    // Always guessing the most common test class scores this much; a run no better learned nothing.
    let majority = test.confusion_matrix.iter().map(|row| row.iter().sum::<i64>()).max().unwrap_or(0) as f64
        / test.total.max(1) as f64;
    let at_chance = test.accuracy <= majority + CHANCE_MARGIN;
    if at_chance && stop == Stop::Finished {
        let why = format!(
            "the final test accuracy {:.2}% is no better than always predicting the most common class ({:.2}%): \
             the network learned nothing; lower --lr (it was {}) or train longer",
            100.0 * test.accuracy,
            100.0 * majority,
            config.initial_lr()
        );
        observer.warn(&why);
        warnings.push(why);
    }
    let report = TrainReport {
        config: RunConfig {
            config: config.clone(),
            device: crate::device::name(device),
            widths,
            cuda_graphs,
        },
        data: DataInfo {
            name: data.name.clone(),
            train_samples: n,
            test_samples: data.test.len(),
            height: data.height,
            width: data.width,
            classes: data.classes,
            class_names: data.class_names.clone(),
            mean: normalization.mean,
            std: normalization.std,
        },
        epochs,
        final_metrics: FinalMetrics {
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            confusion_matrix: test.confusion_matrix,
        },
        stop,
        warnings,
        at_chance,
    };
    Ok(Trained { vs, net, normalization, report })
}

/// The per-epoch metrics as CSV (`train --metrics`): one row per finished epoch.
pub fn metrics_csv(epochs: &[EpochMetrics]) -> String {
    let mut csv = String::from("epoch,lr,train_loss,test_loss,test_accuracy,seconds,samples_per_second\n");
    for m in epochs {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            m.epoch, m.lr, m.train_loss, m.test_loss, m.test_accuracy, m.seconds, m.samples_per_second
        ));
    }
    csv
}

/// The text `nnopt train` ends with (after its epoch lines).
pub fn render(r: &TrainReport) -> String {
    let d = &r.data;
    format!(
        "inputs normalized with the training set's mean {:.4} and std {:.4}\n\
         final test accuracy {:.2}% ({} images), test loss {:.4}\n\n{}",
        d.mean,
        d.std,
        100.0 * r.final_metrics.test_accuracy,
        d.test_samples,
        r.final_metrics.test_loss,
        crate::metrics::confusion_table(&r.final_metrics.confusion_matrix, d.class_names.as_deref())
    )
}

/// `train --plot`: train and test loss per epoch, and test accuracy per epoch.
pub fn figure(report: &TrainReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let per_epoch =
        |f: fn(&EpochMetrics) -> f64| report.epochs.iter().map(|e| (e.epoch as f64, f(e))).collect();
    let style = if report.epochs.len() > 30 { Style::Line } else { Style::LinePoints };
    Figure::stacked(
        900,
        380,
        vec![
            Panel::Chart {
                x_categories: Vec::new(),
                title: format!("Training on {}", report.data.title()),
                x_label: "epoch".into(),
                y_label: "cross-entropy loss".into(),
                log_x: false,
                log_y: false,
                series: vec![
                    Series::new("train loss (mean over the epoch)", per_epoch(|e| e.train_loss), style),
                    Series::new("test loss (after the epoch)", per_epoch(|e| e.test_loss), style),
                ],
                background: Vec::new(),
            },
            Panel::Chart {
                x_categories: Vec::new(),
                title: "Test accuracy".into(),
                x_label: "epoch".into(),
                y_label: "accuracy (%)".into(),
                log_x: false,
                log_y: false,
                series: vec![Series::new("test accuracy", per_epoch(|e| 100.0 * e.test_accuracy), style)],
                background: Vec::new(),
            },
        ],
    )
}

/// `train --confusion`: the final confusion matrix as a heat map, class names where known.
pub fn confusion_figure(report: &TrainReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel};
    let m = &report.final_metrics.confusion_matrix;
    let labels: Vec<String> = match &report.data.class_names {
        Some(names) => names.clone(),
        None => (0..m.len()).map(|i| i.to_string()).collect(),
    };
    Figure {
        width: 900,
        height: 820,
        columns: 1,
        panels: vec![Panel::Heatmap {
            title: format!(
                "Confusion matrix: {} (test accuracy {:.2}%)",
                report.data.title(),
                100.0 * report.final_metrics.test_accuracy
            ),
            rows: labels.clone(),
            columns: labels,
            values: m.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect(),
            x_label: "predicted class".into(),
            y_label: "true class".into(),
        }],
    }
}

impl crate::report::Report for TrainReport {
    fn text(&self) -> String {
        render(self)
    }
    fn csv(&self) -> Option<String> {
        Some(metrics_csv(&self.epochs))
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_moves_the_rate_as_its_formula_says() {
        let cosine = TrainConfig { epochs: 4, lr: Some(0.08), ..TrainConfig::default() };
        let rates: Vec<f64> = (1..=4).map(|t| cosine.lr_at(t)).collect();
        // 0.08·(1 + cos(π·(t − 1)/4))/2: 0.08, 0.0683, 0.04, 0.0117.
        let expected = [0.08, 0.04 * (1.0 + (PI / 4.0).cos()), 0.04, 0.04 * (1.0 + (3.0 * PI / 4.0).cos())];
        for (r, e) in rates.iter().zip(expected) {
            assert!((r - e).abs() < 1e-15, "{rates:?}");
        }
        let constant = TrainConfig { schedule: Schedule::Constant, ..cosine };
        assert!((1..=4).all(|t| constant.lr_at(t) == 0.08));
    }

    #[test]
    fn the_recipe_names_the_rule_that_runs() {
        let notebook = TrainConfig {
            momentum: Some(0.0),
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            lr: Some(0.05),
            ..TrainConfig::default()
        };
        let said = notebook.recipe();
        assert!(
            said.contains("plain SGD")
                && said.contains("θ ← θ − lr_t·∇L")
                && said.contains("constant lr_t = 0.05"),
            "{said}"
        );
        let default = TrainConfig::default().recipe();
        assert!(
            default.contains("Nesterov momentum μ = 0.9") && default.contains("cosine schedule"),
            "{default}"
        );
        let adam = TrainConfig { optimizer: OptimizerKind::Adam, ..TrainConfig::default() }.recipe();
        assert!(adam.starts_with("Adam"), "{adam}");
    }
}

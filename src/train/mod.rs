//! Training the notebook's `Network` on real images — the step the notebook describes ("an
//! image classification problem … 28x28 pixels, 10 classes") but never takes.
//!
//! The recipe: inputs normalized with the training set's mean and std, cross-entropy on the
//! logits, minibatch SGD with Nesterov momentum 0.9 and weight decay 5e-4, batch 128, lr 0.05
//! decayed along a cosine over the epochs (PyTorch's `CosineAnnealingLR` stepped per epoch),
//! 20 epochs, the training set reshuffled every epoch from the seed. Adam is the alternative.
//! Given the same seed and device, a run is repeatable to the bit.
//!
//! [`TrainConfig`] and its checks are in `config.rs`, what a run reports ([`TrainReport`], its
//! text, CSV and pictures) in `report.rs`, the epoch loop (shared with a population) in
//! `epochs.rs`, one network's step (SGD on [`crate::backprop`]'s gradients, or Adam) in
//! `single.rs`; here, a run from start to end: its data on the device, its seeded draws, the
//! loop, the conclusion (final evaluation, warnings, report).

mod config;
mod epochs;
mod report;
mod single;

pub use config::*;
pub use report::*;

pub(crate) use epochs::{shuffles, train_epochs, Setting, Step};
use single::Single;

use std::sync::atomic::AtomicBool;

use anyhow::Result;
use tch::nn;
use tch::{Device, Tensor};

use crate::data::{Dataset, Normalization};
use crate::error::{ensure_usage, guard, torch};
use crate::metrics::{evaluate_inputs, Evaluation, Inputs};
use crate::mlp::{parameter_count, Network, MAX_PARAMETERS};
use crate::observe::Observer;

/// A trained network with what is needed to use and save it.
pub struct Trained {
    pub vs: nn::VarStore,
    pub net: Network,
    pub normalization: Normalization,
    pub report: TrainReport,
}

/// Hooks into a run: output (epoch lines, progress, warnings), a stop flag (raised by a signal), and a
/// callback after every epoch (the metrics CSV; for a population, once per member, in order);
/// an error from it stops the run. Both run while the entry point holds the process's
/// generator ([`crate::exclusive`]): they must not wait on another thread's entry point.
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
    let _only = crate::exclusive::enter();
    crate::device::prepare(device);
    let config = &config.validate()?;
    let sync_every = config.sync_every.unwrap_or_else(|| default_sync_every(device));
    let config = &TrainConfig { sync_every: Some(sync_every), ..config.clone() };
    let widths: Vec<i64> =
        std::iter::once(data.features()).chain(config.hidden.iter().copied()).chain([data.classes]).collect();
    check_size(config, data, &widths, device)?;
    let normalization = Normalization::fit(&data.train.images)?;
    let splits = Splits::on(data, config.limit, &normalization, device)?;

    // The run's draws: its weights, then its first epoch's shuffle (the loop draws the others).
    tch::manual_seed(config.seed as i64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &widths)?;
    let orders = epochs::shuffles(splits.n, 1)?;
    guard("moving the network to --device", || vs.set_device(device))?;
    let sgd = config.optimizer == OptimizerKind::Sgd;
    let setting = Setting::new((&splits, &normalization), data.classes, device, config.cuda_graphs, sgd)?;
    let mut single = Single::new(config, vs, net)?;
    let (mut outcomes, cuda_graphs) =
        epochs::train_epochs(&mut single, std::slice::from_ref(config), vec![orders], &setting, hooks)?;
    let outcome = outcomes.pop().expect("one run, one outcome");
    let (vs, net) = single.into_networks()?.pop().expect("one run, one network");
    let run = Run { config, data, device, splits: &splits, widths, normalization, cuda_graphs };
    conclude(run, vs, net, outcome.epochs, outcome.stop, outcome.last_test, hooks.observer)
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
    /// `x_test` normalized (float32), on GPUs only: every epoch's evaluation reads it.
    pub x_test_normalized: Option<Tensor>,
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
        let x_test = data.test.images.f_to_device(device).map_err(torch)?;
        let normalized = |x: &Tensor| -> Result<Option<Tensor>> {
            Ok(if device.is_cuda() { Some(normalization.apply(x, device)?) } else { None })
        };
        Ok(Splits {
            n,
            x_train_normalized: normalized(&x_train)?,
            x_train,
            y_train: first(&data.train.labels)?,
            x_test_normalized: normalized(&x_test)?,
            x_test,
            y_test: data.test.labels.f_to_device(device).map_err(torch)?,
        })
    }

    /// The test split's images as [`evaluate_inputs`] reads them.
    pub(crate) fn test_inputs<'a>(&'a self, normalization: &'a Normalization) -> Inputs<'a> {
        match &self.x_test_normalized {
            Some(x) => Inputs::Normalized(x),
            None => Inputs::Raw(&self.x_test, normalization),
        }
    }

    /// `net` scored on the test split.
    pub(crate) fn evaluate(
        &self,
        net: &Network,
        classes: i64,
        normalization: &Normalization,
    ) -> Result<Evaluation> {
        evaluate_inputs(net, &self.test_inputs(normalization), &self.y_test, classes)
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
    last_test: Option<Evaluation>,
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
        _ => splits.evaluate(&net, data.classes, &normalization)?,
    };
    let mut warnings = Vec::new();
    if let (Stop::Stalled { .. } | Stop::Dead { .. }, Some(why)) = (&stop, stop.describe(config.initial_lr()))
    {
        observer.warn(&why);
        warnings.push(why);
    }
    let losses: Vec<f64> = epochs.iter().map(|e| e.train_loss).collect();
    let names =
        data.class_names.clone().unwrap_or_else(|| (0..data.classes).map(|c| c.to_string()).collect());
    let verdict = crate::judge::training::judge(&losses, test.accuracy, &test.confusion_matrix, &names);
    let at_chance = verdict.at_chance;
    // A run stopped by divergence, a stall or death has said why already.
    if stop == Stop::Finished {
        for why in verdict.warnings(test.accuracy, config.initial_lr()) {
            observer.warn(&why);
            warnings.push(why);
        }
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
        verdict,
    };
    Ok(Trained { vs, net, normalization, report })
}

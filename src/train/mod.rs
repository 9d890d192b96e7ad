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
//! text, CSV and pictures) in `report.rs`; here, the loop: data to the device, a step per batch
//! (SGD on [`crate::backprop`]'s gradients, or Adam), the per-epoch evaluation, the verdicts.

mod config;
mod report;

pub use config::*;
pub use report::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::backprop::Backprop;
use crate::data::{Dataset, Normalization};
use crate::error::{ensure_usage, guard, torch};
use crate::flat::{self, FlatSgd};
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
                let backprop = Backprop::new(vs.device())?;
                Ok(Updater::Flat(FlatSgd::new(&parameters, sgd)?, backprop))
            }
            OptimizerKind::Adam => Ok(Updater::Adam(
                nn::Adam { wd: config.weight_decay, ..Default::default() }.build(vs, lr).map_err(torch)?,
            )),
        }
    }

    /// What holds `net`'s weights: the flat buffer, or each parameter.
    fn weights(&self, net: &Network) -> Vec<Tensor> {
        match self {
            Updater::Flat(sgd, _) => vec![sgd.parameters().shallow_clone()],
            Updater::Adam(_) => net.parameters().into_iter().map(|(_, p)| p.detach()).collect(),
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

/// The weights an epoch starts from, kept to restore on divergence: pairs of a live tensor
/// and its saved copy, allocated once and overwritten each epoch (for SGD, one pair: the flat
/// buffer every parameter lives in — one kernel, not one per parameter).
struct Snapshot {
    pairs: Vec<(Tensor, Tensor)>,
}

impl Snapshot {
    fn new(live: Vec<Tensor>) -> Result<Self> {
        let pairs = live
            .into_iter()
            .map(|t| {
                let saved = t.f_detach_copy().map_err(torch)?;
                Ok((t, saved))
            })
            .collect::<Result<_>>()?;
        Ok(Snapshot { pairs })
    }

    /// Saves the live weights.
    fn take(&mut self) -> Result<()> {
        tch::no_grad(|| {
            for (live, saved) in &mut self.pairs {
                saved.f_copy_(live).map_err(torch)?;
            }
            Ok(())
        })
    }

    /// Puts the saved weights back.
    fn restore(&mut self) -> Result<()> {
        tch::no_grad(|| {
            for (live, saved) in &mut self.pairs {
                live.f_copy_(saved).map_err(torch)?;
            }
            Ok(())
        })
    }
}

/// Reads the `pending` losses of the batches up to `done` (1-based, inclusive) of `epoch`. On a
/// non-finite one, restores the epoch's starting weights (`snapshot`) — undoing the diverged
/// batch's step and any taken after it — and returns the `Diverged` stop naming it.
fn settle(
    pending: &mut Vec<(Tensor, i64)>,
    loss_sum: &mut f64,
    seen: &mut i64,
    epoch: usize,
    done: i64,
    snapshot: &mut Snapshot,
) -> Result<Option<Stop>> {
    let first = done - pending.len() as i64;
    let Some((k, loss)) = read_losses(pending, loss_sum, seen)? else { return Ok(None) };
    snapshot.restore()?;
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

/// A shuffle of the first `n` training images: what every epoch of a run draws from its seed.
pub(crate) fn shuffle(n: i64) -> Result<Tensor> {
    Tensor::f_randperm(n, (Kind::Int64, Device::Cpu)).map_err(torch)
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
    let Splits { n, y_train, .. } = &splits;
    let n = *n;

    tch::manual_seed(config.seed as i64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &widths)?;
    guard("moving the network to --device", || vs.set_device(device))?;
    let graphs = crate::cuda_graph::wanted(
        config.cuda_graphs,
        device,
        config.optimizer == OptimizerKind::Sgd,
        crate::cuda_shim::built_in(),
    )?;
    // Graphs are captured on a side stream; the whole run (eager steps, evaluation) stays on it.
    let stream = crate::cuda_graph::start(graphs, config.cuda_graphs, device, hooks.observer)?;
    let mut graphed = stream.as_ref().map(|_| crate::cuda_graph::GraphedStep::default());
    let mut opt = Updater::new(config, &vs, &net)?;
    let mut snapshot = Snapshot::new(opt.weights(&net))?;
    let mut next_order: Option<Tensor> = None;

    let batches = if config.dry_run { 1 } else { (n + config.batch_size - 1) / config.batch_size };
    let mut epochs = Vec::new();
    let mut stop = Stop::Finished;
    let mut last_test = None;
    'epochs: for epoch in 1..=config.epochs {
        let started = Instant::now();
        let lr = config.lr_at(epoch);
        opt.set_lr(lr)?;
        // The weights this epoch starts from: what is kept if the loss diverges.
        snapshot.take()?;
        // The epoch's shuffle, drawn on the CPU (the same permutations on every device) — while
        // the device ran the last epoch's final batches, where there was one.
        let order = match next_order.take() {
            Some(order) => order,
            None => shuffle(n)?,
        }
        .f_to_device(device)
        .map_err(torch)?;
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
            // The next epoch's shuffle, drawn now that the last batch is queued: on a GPU the
            // host draws it while the device trains, instead of the device waiting for it. No
            // draw comes between, so the permutation is the one drawn at the next epoch's start.
            if batch + 1 == batches && epoch < config.epochs {
                next_order = Some(shuffle(n)?);
            }
            let log_due =
                config.log_interval > 0 && ((batch + 1) as usize).is_multiple_of(config.log_interval);
            hooks.observer.advance();
            // Ctrl-C stops once the batch in progress is trained; its loss is read first.
            let interrupted = hooks.stop.load(Ordering::Relaxed);
            if pending.len() >= sync_every || batch + 1 == batches || log_due || interrupted {
                let settled =
                    settle(&mut pending, &mut loss_sum, &mut seen, epoch, batch + 1, &mut snapshot)?;
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
        let test = splits.evaluate(&net, data.classes, &normalization)?;
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
        if last_test.as_ref().is_some_and(|t: &Evaluation| t.output_spread == 0.0) {
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

//! The epoch loop: the one place where training runs epoch after epoch, for one network
//! ([`super::single::Single`]) and for a population of networks trained as one
//! ([`crate::population`]) alike. It owns what every run shares — the shuffles, the batches,
//! CUDA graph capture and replay, reading the losses back, divergence and its restore, Ctrl-C,
//! the per-epoch evaluation, the stops (dead, stalled), the metrics and the observer's hooks —
//! and asks a [`Step`] only for what differs: how K runs take one step, save and restore their
//! weights, and are scored.

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Result;
use tch::{nn, Device, Kind, Tensor};

use super::{stalled, EpochMetrics, Hooks, Splits, Stop, TrainConfig};
use crate::data::Normalization;
use crate::error::torch;
use crate::metrics::Evaluation;
use crate::mlp::Network;

/// What the loop steps: K ≥ 1 runs of one network shape, batch size and epoch count, trained
/// together — each on its own shuffle, at its own learning rate.
pub(crate) trait Step {
    /// Prepares an epoch: each run's learning rate, `None` for a run that has stopped (frozen:
    /// its weights must not move, whatever its gradients).
    fn begin_epoch(&mut self, rates: &[Option<f64>]) -> Result<()>;

    /// The values a captured step has baked in (a rate that is not a tensor): a new key, a new
    /// capture.
    fn graph_key(&self) -> u64;

    /// One step of every run on its batch (`idx`, `[K, len]`: run k's image indices in row
    /// k): gather, forward, backward, update. Returns the K losses, `[K]` (a scalar for one
    /// run), on the device; reads nothing back to the host, so it can be captured as a CUDA
    /// graph.
    fn step(&mut self, idx: &Tensor, splits: &Splits, normalization: &Normalization) -> Result<Tensor>;

    /// Saves every run's weights: what an epoch starts from.
    fn save(&mut self) -> Result<()>;

    /// Puts run `k`'s saved weights back: it diverged.
    fn restore(&mut self, k: usize) -> Result<()>;

    /// Run `k`'s network scored on the test split.
    fn evaluate(&self, k: usize, splits: &Splits, classes: i64, norm: &Normalization) -> Result<Evaluation>;

    /// Every run's trained network, in order.
    fn into_networks(self) -> Result<Vec<(nn::VarStore, Network)>>;
}

/// What the loop gives back for each run: its epochs, why it stopped, its last evaluation.
pub(crate) struct Outcome {
    pub epochs: Vec<EpochMetrics>,
    pub stop: Stop,
    pub last_test: Option<Evaluation>,
}

/// One run's state between batches.
struct Run<'a> {
    config: &'a TrainConfig,
    /// The shuffles drawn so far (int32, on the CPU): at least this epoch's.
    orders: Vec<Tensor>,
    epochs: Vec<EpochMetrics>,
    stop: Option<Stop>,
    last_test: Option<Evaluation>,
    loss_sum: f64,
    seen: i64,
}

impl<'a> Run<'a> {
    fn new(config: &'a TrainConfig, orders: Vec<Tensor>) -> Self {
        Run { config, orders, epochs: Vec::new(), stop: None, last_test: None, loss_sum: 0.0, seen: 0 }
    }
}

/// `epochs` shuffles of the first `n` training images, drawn now from libtorch's generator: the
/// orders a run sees them in. Kept as int32, half the bytes. A run draws its first after its
/// weights (the caller seeds and draws those); the loop draws each next one during the epoch
/// before it — nothing draws in between, so every run sees the shuffles its seed gives — unless
/// the caller drew them all up front (a population, whose members each draw from their own seed).
pub(crate) fn shuffles(n: i64, epochs: usize) -> Result<Vec<Tensor>> {
    (0..epochs)
        .map(|_| Tensor::f_randperm(n, (Kind::Int64, Device::Cpu)).and_then(|o| o.f_to_kind(Kind::Int)))
        .collect::<Result<_, _>>()
        .map_err(torch)
}

/// What every run of one loop shares: the data on its device and how to step it.
pub(crate) struct Setting<'a> {
    pub splits: &'a Splits,
    pub normalization: &'a Normalization,
    pub classes: i64,
    pub device: Device,
    /// Capture the step as a CUDA graph on the device's side stream ([`crate::cuda_graph`]), and
    /// what `--cuda-graphs` asked (`None`: the default, which falls back with a warning).
    pub graphs: bool,
    pub requested_graphs: Option<bool>,
}

impl<'a> Setting<'a> {
    /// `requested`: `--cuda-graphs`; `sgd`: whether the step can be captured (Adam's bias
    /// correction changes every step, so it cannot).
    pub(crate) fn new(
        (splits, normalization): (&'a Splits, &'a Normalization),
        classes: i64,
        device: Device,
        requested: Option<bool>,
        sgd: bool,
    ) -> Result<Self> {
        let graphs = crate::cuda_graph::wanted(requested, device, sgd, crate::cuda_shim::built_in())?;
        Ok(Setting { splits, normalization, classes, device, graphs, requested_graphs: requested })
    }
}

/// Trains `step`'s runs (their `configs` and the shuffles drawn so far, `orders`; they share
/// shape, batch size and epochs) in `setting`. Returns each run's outcome and whether CUDA
/// graphs replayed the steps.
pub(crate) fn train_epochs<S: Step>(
    step: &mut S,
    configs: &[TrainConfig],
    orders: Vec<Vec<Tensor>>,
    setting: &Setting,
    hooks: &mut Hooks,
) -> Result<(Vec<Outcome>, bool)> {
    let Setting { splits, normalization, classes, device, .. } = *setting;
    let base = &configs[0];
    let (k, n, batch_size) = (configs.len(), splits.n, base.batch_size);
    let batches = if base.dry_run { 1 } else { (n + batch_size - 1) / batch_size };
    let sync_every = base.sync_every.unwrap_or_else(|| super::default_sync_every(device));
    let mut runs: Vec<Run> =
        configs.iter().zip(orders).map(|(config, orders)| Run::new(config, orders)).collect();
    // Graphs are captured on a side stream; the whole run (eager steps, evaluation) stays on it.
    let mut stream =
        crate::cuda_graph::start(setting.graphs, setting.requested_graphs, device, hooks.observer)?;
    let mut graphed = stream.as_ref().map(|_| crate::cuda_graph::GraphedStep::default());
    let networks = if k == 1 { String::new() } else { format!(" ({k} networks)") };

    for epoch in 1..=base.epochs {
        // A signal that came while the last epoch was evaluated stops here: that epoch is whole,
        // and starting another only to cut it after one batch would train and test for nothing.
        if epoch > 1 && hooks.stop.load(Ordering::Relaxed) {
            for r in runs.iter_mut().filter(|r| r.stop.is_none()) {
                r.stop = Some(Stop::Interrupted { epoch: epoch - 1, batch: batches });
            }
            break;
        }
        let started = Instant::now();
        let rates: Vec<Option<f64>> =
            runs.iter().map(|r| r.stop.is_none().then(|| r.config.lr_at(epoch))).collect();
        step.begin_epoch(&rates)?;
        step.save()?;
        runs.iter_mut().for_each(|r| (r.loss_sum, r.seen) = (0.0, 0));
        let order = epoch_order(&runs, epoch, device)?;
        hooks.observer.start(&format!("epoch {epoch}/{}{networks}", base.epochs), batches as u64);
        // The losses of batches not yet read back, with their sizes: reading makes the host wait
        // for the device, so on a GPU they are read `sync_every` at a time.
        let mut pending: Vec<(Tensor, i64)> = Vec::new();
        for batch in 0..batches {
            let start = batch * batch_size;
            let len = batch_size.min(n - start);
            let idx = order.f_narrow(1, start, len).map_err(torch)?;
            let key = step.graph_key();
            let mut take = |idx: &Tensor| step.step(idx, splits, normalization);
            let losses = match graphed.as_mut().map(|g| g.run(&idx, key, &mut take)) {
                Some(Ok(losses)) => losses,
                // A failed capture ran nothing: leave the side stream (its device synchronised)
                // and take the step eagerly on the default stream, as every later one.
                Some(Err(e)) if crate::cuda_graph::capture_failed(&e) => {
                    drop(stream.take());
                    take(&idx)?
                }
                Some(Err(e)) => return Err(e),
                None => take(&idx)?,
            };
            pending.push((losses, len));
            // The next epoch's shuffle, drawn now that this epoch's last batch is queued: on a GPU
            // the host draws it while the device trains. A run that drew its shuffles up front
            // (a population's members, each from its own seed) has it already.
            if batch + 1 == batches && epoch < base.epochs {
                for r in runs.iter_mut().filter(|r| r.orders.len() == epoch) {
                    r.orders.extend(shuffles(n, 1)?);
                }
            }
            let log_due = base.log_interval > 0 && ((batch + 1) as usize).is_multiple_of(base.log_interval);
            hooks.observer.advance();
            // A signal stops once the batch in progress is trained; its loss is read first.
            let interrupted = hooks.stop.load(Ordering::Relaxed);
            if pending.len() >= sync_every || batch + 1 == batches || log_due || interrupted {
                settle(&mut pending, &mut runs, step, epoch, batch + 1)?;
            }
            // A run that has just stopped (diverged) reports its stop, not a progress note.
            if log_due && runs.iter().any(|r| r.stop.is_none()) {
                hooks.observer.note(&progress(&runs, epoch, n));
            }
            if interrupted {
                for r in runs.iter_mut().filter(|r| r.stop.is_none()) {
                    r.stop = Some(Stop::Interrupted { epoch, batch: batch + 1 });
                }
            }
            if runs.iter().all(|r| r.stop.is_some()) {
                break;
            }
        }
        hooks.observer.finish();
        let train_seconds = started.elapsed().as_secs_f64();
        score_epoch(step, &mut runs, (epoch, batches), train_seconds, splits, (classes, normalization))?;
        let share = started.elapsed().as_secs_f64() / k as f64;
        for r in runs.iter_mut() {
            if let Some(last) = r.epochs.last_mut().filter(|e| e.epoch == epoch) {
                last.seconds = share;
                if k == 1 {
                    hooks.observer.line(&epoch_line(last, base.epochs));
                }
                (hooks.on_epoch)(last)?;
            }
        }
        if runs.iter().all(|r| r.stop.is_some()) {
            break;
        }
    }
    let replayed = crate::cuda_graph::replayed(graphed.as_ref(), hooks.observer);
    let outcomes = runs
        .into_iter()
        .map(|r| Outcome { epochs: r.epochs, stop: r.stop.unwrap_or(Stop::Finished), last_test: r.last_test })
        .collect();
    Ok((outcomes, replayed))
}

/// Every run's shuffle for `epoch`, one row each (`[K, n]`): one transfer to the device.
fn epoch_order(runs: &[Run], epoch: usize, device: Device) -> Result<Tensor> {
    let order: Vec<&Tensor> = runs.iter().map(|r| &r.orders[epoch - 1]).collect();
    Tensor::f_stack(&order, 0)
        .and_then(|o| o.f_to_device(device))
        .and_then(|o| o.f_to_kind(Kind::Int64))
        .map_err(torch)
}

/// Scores every run that trained in `epoch` on the test split and records its metrics; a run
/// whose outputs no longer differ between images is dead, one whose loss has not moved since
/// its first epoch stalled. Runs stopped in an earlier epoch took no part, and one that diverged
/// in this one ends there: its restored weights are scored once, at the end.
fn score_epoch<S: Step>(
    step: &S,
    runs: &mut [Run],
    (epoch, planned): (usize, i64),
    train_seconds: f64,
    splits: &Splits,
    (classes, normalization): (i64, &Normalization),
) -> Result<()> {
    for (i, r) in runs.iter_mut().enumerate() {
        let diverged_now = matches!(r.stop, Some(Stop::Diverged { epoch: e, .. }) if e == epoch);
        if diverged_now || r.stop.as_ref().is_some_and(|s| stopped_before(s, epoch)) {
            continue;
        }
        let test = step.evaluate(i, splits, classes, normalization)?;
        let batches = match r.stop {
            Some(Stop::Interrupted { epoch: e, batch }) if e == epoch => batch,
            _ => planned,
        };
        r.epochs.push(EpochMetrics {
            epoch,
            lr: r.config.lr_at(epoch),
            train_loss: r.loss_sum / r.seen.max(1) as f64,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            // Set once every run is scored: the epoch's time, shared equally.
            seconds: 0.0,
            samples_per_second: r.seen as f64 / train_seconds.max(1e-9),
            batches,
            complete: batches == planned,
        });
        if r.stop.is_none() && test.output_spread == 0.0 {
            r.stop = Some(Stop::Dead { epoch });
        } else if r.stop.is_none() && epoch < r.config.epochs && stalled(&r.epochs) {
            r.stop = Some(Stop::Stalled { epoch });
        }
        r.last_test = Some(test);
    }
    Ok(())
}

/// An epoch's summary line, as a person reads it.
fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let cut = if m.complete { String::new() } else { format!("  (cut short: {} batches)", m.batches) };
    format!(
        "epoch {:>3}/{}  lr {:.5}  train loss {:.4}  test loss {:.4}  test accuracy {:.2}%  {:.1} s  {:.0} samples/s{cut}",
        m.epoch,
        epochs,
        m.lr,
        m.train_loss,
        m.test_loss,
        100.0 * m.test_accuracy,
        m.seconds,
        m.samples_per_second
    )
}

/// The `--log-interval` note: the training loss so far this epoch (of one run, or the mean of
/// the runs still training).
fn progress(runs: &[Run], epoch: usize, n: i64) -> String {
    let live: Vec<&Run> = runs.iter().filter(|r| r.stop.is_none() && r.seen > 0).collect();
    let Some(first) = live.first() else { return format!("epoch {epoch} [0/{n}]") };
    let seen = first.seen;
    let loss = live.iter().map(|r| r.loss_sum / r.seen as f64).sum::<f64>() / live.len() as f64;
    let of = if runs.len() == 1 { String::new() } else { format!(" (mean of {} networks)", live.len()) };
    format!("epoch {epoch} [{seen}/{n} ({:.0}%)] train loss {loss:.6}{of}", 100.0 * seen as f64 / n as f64)
}

/// Whether a run's stop came before `epoch` began (it took no part in it).
fn stopped_before(stop: &Stop, epoch: usize) -> bool {
    match *stop {
        Stop::Finished => false,
        Stop::Interrupted { epoch: e, .. } | Stop::Diverged { epoch: e, .. } => e < epoch,
        Stop::Stalled { epoch: e } | Stop::Dead { epoch: e } => e < epoch,
    }
}

/// Reads the `pending` batches' losses back — one transfer — and adds each run's finite ones,
/// in order, to its epoch's sum. A run whose loss is not finite is restored to the epoch's
/// start and stopped as diverged at that batch (`done`: the last pending batch, 1-based); the
/// float32 losses are widened to f64, exactly what reading each alone gives.
fn settle<S: Step>(
    pending: &mut Vec<(Tensor, i64)>,
    runs: &mut [Run],
    step: &mut S,
    epoch: usize,
    done: i64,
) -> Result<()> {
    let first = done - pending.len() as i64;
    let values: Vec<f64> = match &pending[..] {
        // One run's one loss (every batch on the CPU): read as it is, a call not five — at batch
        // 1 the step itself is a few dozen microseconds.
        [(loss, _)] if loss.numel() == 1 => vec![loss.f_double_value(&[]).map_err(torch)?],
        many => {
            let losses: Vec<&Tensor> = many.iter().map(|(l, _)| l).collect();
            Tensor::f_stack(&losses, 0)
                // To the CPU first: not every device has float64 (MPS), and half the bytes move.
                .and_then(|t| t.f_to_device(Device::Cpu))
                .and_then(|t| t.f_to_kind(Kind::Double))
                .and_then(|t| t.f_reshape([-1]))
                .and_then(|t| Vec::<f64>::try_from(&t))
                .map_err(torch)?
        }
    };
    let k = runs.len();
    for (j, (_, len)) in pending.drain(..).enumerate() {
        for (i, r) in runs.iter_mut().enumerate() {
            if r.stop.is_some() {
                continue;
            }
            let value = values[j * k + i];
            if value.is_finite() {
                r.loss_sum += value * len as f64;
                r.seen += len;
                continue;
            }
            r.stop = Some(Stop::Diverged { epoch, batch: first + j as i64 + 1, loss: value });
            step.restore(i)?;
        }
    }
    Ok(())
}

//! A population: several networks of one shape, trained at once as one batched network.
//!
//! A small network leaves most of a machine idle: each step is a few thin matrix products, and
//! on a GPU mostly kernel launches. Stacking K networks of the same widths and batch size along
//! a member dimension turns each layer's K products into one `baddbmm`, each loss into one
//! `nll_loss`, and each update into a handful of kernels for all K, so a sweep trains K trials
//! for little more than the cost of one. The members' parameters are the rows of one flat
//! buffer, and their backward pass is written out as one network's is ([`crate::backprop`]):
//! see `stack.rs`.
//!
//! Each member is its solo run ([`crate::train::train`]) in all that decides its numbers: its
//! initial weights and every epoch's shuffle come from its own seed (drawn exactly as the solo
//! run draws them), and its learning rate, schedule, momentum and weight decay are its own
//! (tensors with one entry per member). The update is SGD's, as libtorch applies it (dampening
//! 0, Nesterov where momentum > 0): g ← ∇L + λ·θ; v ← μ·v + g; θ ← θ − lr_t·(g + μ·v). A member
//! that diverges, stalls or dies stops as its solo run would (its weights restored to the
//! epoch's start on divergence) and is frozen (lr 0) while the others go on. What differs from
//! the solo run is the order of float additions inside a batched product, so the numbers agree
//! to float rounding, not bit for bit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

mod stack;

use self::stack::Stack;

use crate::data::{Dataset, Normalization};
use crate::error::torch;
use crate::metrics::Evaluation;
use crate::mlp::Network;
use crate::observe::Observer;
use crate::train::{
    conclude, default_sync_every, shuffle, stalled, EpochMetrics, OptimizerKind, Run, Splits, Stop,
    TrainConfig, Trained,
};

/// Whether two runs can train in one population: the same network shape, batch size, epochs,
/// training images and optimizer (SGD: Adam's state is not batched here); the rest — seed,
/// learning rate, schedule, momentum, weight decay — may differ.
pub fn compatible(a: &TrainConfig, b: &TrainConfig) -> bool {
    a.optimizer == OptimizerKind::Sgd
        && b.optimizer == OptimizerKind::Sgd
        && a.hidden == b.hidden
        && a.batch_size == b.batch_size
        && a.epochs == b.epochs
        && a.limit == b.limit
        && a.dry_run == b.dry_run
        && a.cuda_graphs == b.cuda_graphs
}

/// One member's state between epochs.
struct Member {
    config: TrainConfig,
    /// Every epoch's shuffle, drawn after the initial weights from the member's seed.
    orders: Vec<Tensor>,
    epochs: Vec<EpochMetrics>,
    stop: Option<Stop>,
    last_test: Option<Evaluation>,
    loss_sum: f64,
    seen: i64,
}

/// A per-member value as a [K, 1] tensor, to scale each member's row of the stacked
/// parameters.
fn per_member(values: &[f64], device: Device) -> Result<Tensor> {
    let floats: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::f_from_slice(&floats).and_then(|t| t.f_reshape([-1, 1])?.f_to_device(device)).map_err(torch)
}

/// Trains `configs` (pairwise [`compatible`]) as one population on `data`; returns each
/// member's run as its solo [`crate::train::train`] would report it. Ctrl-C (`stop`) ends every
/// member after the batch in progress.
pub fn train_population(
    configs: &[TrainConfig],
    data: &Dataset,
    device: Device,
    observer: &dyn Observer,
    stop: &AtomicBool,
) -> Result<Vec<Trained>> {
    crate::device::prepare(device);
    let Some(first) = configs.first() else { return Ok(Vec::new()) };
    if let Some(odd) = configs.iter().find(|c| !compatible(first, c)) {
        bail!("a population needs one network shape, batch size and epochs, and SGD: {odd:?} differs from {first:?}");
    }
    let configs: Vec<TrainConfig> = configs.iter().map(TrainConfig::validate).collect::<Result<_>>()?;
    let base = &configs[0];
    let widths: Vec<i64> =
        std::iter::once(data.features()).chain(base.hidden.iter().copied()).chain([data.classes]).collect();
    // Memory: every member's parameters, state and activations (the images once), and the
    // shuffles; a population that does not fit is refused before it allocates (the sweep then
    // trains its members one at a time).
    if device == Device::Cpu {
        let one = crate::train::estimate_bytes(base, data, &widths);
        let images = (data.train.len() + data.test.len()) as u64 * data.features() as u64 * 4;
        let orders = configs.len() as u64 * base.epochs as u64 * data.train.len() as u64 * 4;
        let needed = images + configs.len() as u64 * one.saturating_sub(images) + orders;
        if let Some(available) = crate::train::available_memory() {
            if needed > available {
                bail!(
                    "{} networks together need about {} MiB, {} MiB are available",
                    configs.len(),
                    needed >> 20,
                    available >> 20
                );
            }
        }
    }
    let normalization = Normalization::fit(&data.train.images)?;
    let splits = Splits::on(data, base.limit, &normalization, device)?;
    let Splits { n, y_train, .. } = &splits;
    let n = *n;

    // Each member's draws, in its solo run's order: the network, then one shuffle per epoch.
    let mut members = Vec::new();
    let mut initial: Vec<Vec<Tensor>> = Vec::new();
    for config in &configs {
        tch::manual_seed(config.seed as i64);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), &widths)?;
        initial.push(net.parameters().into_iter().map(|(_, p)| p.detach()).collect());
        // Kept on the CPU as int32 (half the bytes), moved to the device an epoch at a time.
        let orders = (0..config.epochs)
            .map(|_| shuffle(n)?.f_to_kind(Kind::Int).map_err(torch))
            .collect::<Result<_>>()?;
        members.push(Member {
            config: config.clone(),
            orders,
            epochs: Vec::new(),
            stop: None,
            last_test: None,
            loss_sum: 0.0,
            seen: 0,
        });
    }
    let mut stack = Stack::new(&initial, &widths, device)?;

    let k = configs.len() as i64;
    let batch_size = base.batch_size;
    let batches = if base.dry_run { 1 } else { (n + batch_size - 1) / batch_size };
    let sync_every = base.sync_every.unwrap_or_else(|| default_sync_every(device));
    let momentum: Vec<f64> = configs.iter().map(|c| c.momentum.unwrap_or(0.0)).collect();
    let decay: Vec<f64> = configs.iter().map(|c| c.weight_decay).collect();
    let mu = per_member(&momentum, device)?;
    let lambda = per_member(&decay, device)?;
    // Every member's rate and whether it trains, as tensors the step reads in place: a captured
    // step (CUDA graphs) sees new values without being captured again.
    let mut lr = per_member(&vec![0.0; configs.len()], device)?;
    let mut active = lr.f_gt(0.5).map_err(torch)?;
    let graphs = crate::cuda_graph::wanted(base.cuda_graphs, device, true, crate::cuda_shim::built_in())?;
    let stream = crate::cuda_graph::start(graphs, base.cuda_graphs, device, observer)?;
    let mut graphed = stream.as_ref().map(|_| crate::cuda_graph::GraphedStep::default());
    for epoch in 1..=base.epochs {
        let started = Instant::now();
        // A member that has stopped trains on with a rate of 0: frozen, and its slot costs
        // only arithmetic.
        let rates: Vec<f64> =
            members.iter().map(|m| if m.stop.is_some() { 0.0 } else { m.config.lr_at(epoch) }).collect();
        lr.f_copy_(&per_member(&rates, device)?).map_err(torch)?;
        // Which members train this epoch: a frozen one's slice must not move even where its
        // step is not finite (0·NaN is NaN), so its change is masked, not scaled by 0.
        let training: Vec<f64> = members.iter().map(|m| f64::from(u8::from(m.stop.is_none()))).collect();
        active.f_copy_(&per_member(&training, device)?.f_gt(0.5).map_err(torch)?).map_err(torch)?;
        let snapshot = stack.flat.f_detach_copy().map_err(torch)?;
        members.iter_mut().for_each(|m| (m.loss_sum, m.seen) = (0.0, 0));
        // Every member's shuffle for this epoch, one row each: one transfer to the device.
        let orders: Vec<&Tensor> = members.iter().map(|m| &m.orders[epoch - 1]).collect();
        let orders = Tensor::f_stack(&orders, 0)
            .and_then(|o| o.f_to_device(device))
            .and_then(|o| o.f_to_kind(Kind::Int64))
            .map_err(torch)?;
        observer.start(&format!("epoch {epoch}/{} ({k} networks)", base.epochs), batches as u64);
        let mut pending: Vec<(Tensor, i64)> = Vec::new();
        for batch in 0..batches {
            let start = batch * batch_size;
            let len = batch_size.min(n - start);
            // `[K, len]`: member k's batch in row k, one view for all (a graph copies it in with
            // one kernel).
            let idx = orders.f_narrow(1, start, len).map_err(torch)?;
            // One step of every member on its batch (`idx`, member after member); nothing in
            // it reads back to the host, so it can be captured.
            let mut step = |idx: &Tensor| -> Result<Tensor> {
                let idx = &idx.f_reshape([-1]).map_err(torch)?;
                let inputs = splits.inputs(idx, &normalization)?.f_reshape([k, len, -1]).map_err(torch)?;
                let targets = y_train.f_index_select(0, idx).map_err(torch)?;
                let losses = stack.loss_and_gradients(&inputs, &targets)?;
                stack.update(&lr, &mu, &lambda, &active)?;
                Ok(losses)
            };
            // The rates are tensors read in place, so one capture serves every epoch.
            let losses = match graphed.as_mut() {
                Some(g) => g.run(&idx, 0, &mut step)?,
                None => step(&idx)?,
            };
            pending.push((losses, len));
            observer.advance();
            let interrupted = stop.load(Ordering::Relaxed);
            if pending.len() >= sync_every || batch + 1 == batches || interrupted {
                settle(&mut pending, &mut members, &mut stack, &snapshot, &active, epoch, batch + 1)?;
            }
            if interrupted {
                for m in members.iter_mut().filter(|m| m.stop.is_none()) {
                    m.stop = Some(Stop::Interrupted { epoch, batch: batch + 1 });
                }
                break;
            }
        }
        observer.finish();
        let train_seconds = started.elapsed().as_secs_f64();
        for (i, m) in members.iter_mut().enumerate() {
            // Members stopped in an earlier epoch took no part in this one, and one that
            // diverged in it ends there, as its solo run does: its restored weights are scored
            // once, at the end.
            let diverged_now = matches!(m.stop, Some(Stop::Diverged { epoch: e, .. }) if e == epoch);
            if diverged_now || m.stop.as_ref().is_some_and(|s| stopped_before(s, epoch)) {
                continue;
            }
            let (_vs, net) = stack.member(i as i64, &widths, device)?;
            let test = splits.evaluate(&net, data.classes, &normalization)?;
            m.epochs.push(EpochMetrics {
                epoch,
                lr: m.config.lr_at(epoch),
                train_loss: m.loss_sum / m.seen.max(1) as f64,
                test_loss: test.loss,
                test_accuracy: test.accuracy,
                // Set below, once every member is evaluated: the epoch's time, shared equally.
                seconds: 0.0,
                samples_per_second: m.seen as f64 / train_seconds.max(1e-9),
            });
            if m.stop.is_none() && test.output_spread == 0.0 {
                m.stop = Some(Stop::Dead { epoch });
            } else if m.stop.is_none() && epoch < base.epochs && stalled(&m.epochs) {
                m.stop = Some(Stop::Stalled { epoch });
            }
            m.last_test = Some(test);
        }
        let share = started.elapsed().as_secs_f64() / k as f64;
        for m in members.iter_mut() {
            if let Some(last) = m.epochs.last_mut().filter(|e| e.epoch == epoch) {
                last.seconds = share;
            }
        }
        if members.iter().all(|m| m.stop.is_some()) {
            break;
        }
    }

    let replayed = crate::cuda_graph::replayed(graphed.as_ref(), observer);
    members
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let (vs, net) = stack.member(i as i64, &widths, device)?;
            let run = Run {
                config: &m.config,
                data,
                device,
                splits: &splits,
                widths: widths.clone(),
                normalization,
                cuda_graphs: replayed,
            };
            conclude(
                run,
                vs,
                net,
                m.epochs,
                m.stop.unwrap_or(Stop::Finished),
                m.last_test,
                &crate::observe::Quiet,
            )
        })
        .collect()
}

/// Whether a member's stop came before `epoch` began (it took no part in it).
fn stopped_before(stop: &Stop, epoch: usize) -> bool {
    match *stop {
        Stop::Finished => false,
        Stop::Interrupted { epoch: e, .. } | Stop::Diverged { epoch: e, .. } => e < epoch,
        Stop::Stalled { epoch: e } | Stop::Dead { epoch: e } => e < epoch,
    }
}

/// Reads the pending batches' per-member losses; a member whose loss is not finite is
/// restored to the epoch's start, frozen, and stopped as diverged at that batch.
#[allow(clippy::too_many_arguments)]
fn settle(
    pending: &mut Vec<(Tensor, i64)>,
    members: &mut [Member],
    stack: &mut Stack,
    snapshot: &Tensor,
    active: &Tensor,
    epoch: usize,
    done: i64,
) -> Result<()> {
    let first = done - pending.len() as i64;
    for (j, (losses, len)) in pending.drain(..).enumerate() {
        let values = Vec::<f64>::try_from(
            &losses.f_to_device(Device::Cpu).and_then(|l| l.f_to_kind(Kind::Double)).map_err(torch)?,
        )
        .map_err(torch)?;
        for (i, (m, value)) in members.iter_mut().zip(values).enumerate() {
            if m.stop.is_some() {
                continue;
            }
            if value.is_finite() {
                m.loss_sum += value * len as f64;
                m.seen += len;
                continue;
            }
            m.stop = Some(Stop::Diverged { epoch, batch: first + j as i64 + 1, loss: value });
            stack.restore(i as i64, snapshot)?;
            active.f_get(i as i64).and_then(|mut a| a.f_fill_(0)).map(drop).map_err(torch)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_shape_batch_size_and_sgd_train_together() {
        let a = TrainConfig { epochs: 3, ..Default::default() };
        let other_rate = TrainConfig { lr: Some(0.3), momentum: Some(0.0), seed: 7, ..a.clone() };
        assert!(compatible(&a, &other_rate));
        assert!(!compatible(&a, &TrainConfig { hidden: vec![64], ..a.clone() }));
        assert!(!compatible(&a, &TrainConfig { batch_size: 64, ..a.clone() }));
        assert!(!compatible(&a, &TrainConfig { epochs: 4, ..a.clone() }));
        assert!(!compatible(
            &a,
            &TrainConfig { optimizer: OptimizerKind::Adam, momentum: None, ..a.clone() }
        ));
    }
}

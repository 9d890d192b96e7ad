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

use std::sync::atomic::AtomicBool;

use anyhow::{bail, Result};
use tch::{nn, Device, Tensor};

mod stack;

use self::stack::Stack;

use crate::data::{Dataset, Normalization};
use crate::error::torch;
use crate::metrics::Evaluation;
use crate::mlp::Network;
use crate::observe::Observer;
use crate::train::{
    conclude, shuffles, train_epochs, Hooks, OptimizerKind, Run, Setting, Splits, Step, TrainConfig, Trained,
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

/// A per-member value as a [K, 1] tensor, to scale each member's row of the stacked
/// parameters.
fn per_member(values: &[f64], device: Device) -> Result<Tensor> {
    let floats: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::f_from_slice(&floats).and_then(|t| t.f_reshape([-1, 1])?.f_to_device(device)).map_err(torch)
}

/// K networks stacked: the epoch loop's [`Step`] for a population.
struct Population {
    stack: Stack,
    widths: Vec<i64>,
    device: Device,
    /// Every member's rate, momentum, weight decay and whether it trains, `[K, 1]` tensors the
    /// step reads in place: a captured step (CUDA graphs) sees new values without being
    /// captured again.
    lr: Tensor,
    mu: Tensor,
    lambda: Tensor,
    active: Tensor,
    /// The members' weights at the epoch's start (a copy of the stack's flat buffer).
    snapshot: Tensor,
}

impl Step for Population {
    fn begin_epoch(&mut self, rates: &[Option<f64>]) -> Result<()> {
        // A member that has stopped trains on with a rate of 0 and is masked: frozen, its slot
        // costs only arithmetic, and its slice must not move even where its step is not finite
        // (0·NaN is NaN), so its change is masked, not scaled by 0.
        let lr: Vec<f64> = rates.iter().map(|r| r.unwrap_or(0.0)).collect();
        self.lr.f_copy_(&per_member(&lr, self.device)?).map_err(torch)?;
        let training: Vec<f64> = rates.iter().map(|r| f64::from(u8::from(r.is_some()))).collect();
        let training = per_member(&training, self.device)?.f_gt(0.5).map_err(torch)?;
        self.active.f_copy_(&training).map(drop).map_err(torch)
    }

    fn graph_key(&self) -> u64 {
        // The rates are tensors read in place, so one capture serves every epoch.
        0
    }

    fn step(&mut self, idx: &Tensor, splits: &Splits, normalization: &Normalization) -> Result<Tensor> {
        let (k, len) = (idx.size()[0], idx.size()[1]);
        let idx = &idx.f_reshape([-1]).map_err(torch)?;
        let inputs = splits.inputs(idx, normalization)?.f_reshape([k, len, -1]).map_err(torch)?;
        let targets = splits.y_train.f_index_select(0, idx).map_err(torch)?;
        let losses = self.stack.loss_and_gradients(&inputs, &targets)?;
        self.stack.update(&self.lr, &self.mu, &self.lambda, &self.active)?;
        Ok(losses)
    }

    fn save(&mut self) -> Result<()> {
        tch::no_grad(|| self.snapshot.f_copy_(&self.stack.flat).map(drop).map_err(torch))
    }

    fn restore(&mut self, k: usize) -> Result<()> {
        // Restored and frozen at once: the member's later steps this epoch leave it be.
        self.stack.restore(k as i64, &self.snapshot)?;
        self.active.f_get(k as i64).and_then(|mut a| a.f_fill_(0)).map(drop).map_err(torch)
    }

    fn evaluate(&self, k: usize, splits: &Splits, classes: i64, norm: &Normalization) -> Result<Evaluation> {
        let (_vs, net) = self.stack.member(k as i64, &self.widths, self.device)?;
        splits.evaluate(&net, classes, norm)
    }

    fn into_networks(self) -> Result<Vec<(nn::VarStore, Network)>> {
        let k = self.stack.flat.size()[0];
        (0..k).map(|i| self.stack.member(i, &self.widths, self.device)).collect()
    }
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
    let _only = crate::exclusive::enter();
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

    // Each member's draws, in its solo run's order: the network, then one shuffle per epoch.
    let mut initial: Vec<Vec<Tensor>> = Vec::new();
    let mut orders = Vec::new();
    for config in &configs {
        tch::manual_seed(config.seed as i64);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), &widths)?;
        initial.push(net.parameters().into_iter().map(|(_, p)| p.detach()).collect());
        orders.push(shuffles(splits.n, config.epochs)?);
    }
    let stack = Stack::new(&initial, &widths, device)?;
    // Where one network's update runs fused but the population's failed its check, say so: it
    // trains on, unfused, with the same numbers.
    if let (Ok(()), Err(why)) = (crate::fused::status(device), stack::fused_status(device)) {
        observer.warn(&format!("{why}; the population uses the unfused update"));
    }
    let k = configs.len();
    let momentum: Vec<f64> = configs.iter().map(|c| c.momentum.unwrap_or(0.0)).collect();
    let decay: Vec<f64> = configs.iter().map(|c| c.weight_decay).collect();
    let lr = per_member(&vec![0.0; k], device)?;
    let mut population = Population {
        snapshot: stack.flat.f_detach_copy().map_err(torch)?,
        stack,
        widths: widths.clone(),
        device,
        active: lr.f_gt(0.5).map_err(torch)?,
        lr,
        mu: per_member(&momentum, device)?,
        lambda: per_member(&decay, device)?,
    };
    let setting = Setting::new((&splits, &normalization), data.classes, device, base.cuda_graphs, true)?;
    let mut hooks = Hooks { observer, stop, on_epoch: &mut |_| Ok(()) };
    let (outcomes, replayed) = train_epochs(&mut population, &configs, orders, &setting, &mut hooks)?;
    let networks = population.into_networks()?;
    outcomes
        .into_iter()
        .zip(networks)
        .zip(&configs)
        .map(|((outcome, (vs, net)), config)| {
            let run = Run {
                config,
                data,
                device,
                splits: &splits,
                widths: widths.clone(),
                normalization,
                cuda_graphs: replayed,
            };
            conclude(run, vs, net, outcome.epochs, outcome.stop, outcome.last_test, &crate::observe::Quiet)
        })
        .collect()
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

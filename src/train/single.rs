//! One network's step for the epoch loop ([`super::epochs`]): SGD on the gradients that
//! [`crate::backprop`] writes out (the flat buffers of [`crate::flat`]), or Adam on autograd's;
//! the weights an epoch starts from, kept for a divergence.

use anyhow::Result;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use super::epochs::Step;
use super::{OptimizerKind, Splits, TrainConfig, DEFAULT_MOMENTUM};
use crate::backprop::Backprop;
use crate::data::Normalization;
use crate::error::{guard, torch};
use crate::flat::{self, FlatSgd};
use crate::metrics::Evaluation;
use crate::mlp::Network;

/// One network trained alone: a [`Step`] of one run.
pub(super) struct Single {
    vs: nn::VarStore,
    net: Network,
    updater: Updater,
    snapshot: Snapshot,
    /// This epoch's learning rate: baked into a captured SGD update, so the graph's key.
    lr: f64,
}

impl Single {
    pub(super) fn new(config: &TrainConfig, vs: nn::VarStore, net: Network) -> Result<Self> {
        let updater = Updater::new(config, &vs, &net)?;
        let snapshot = Snapshot::new(updater.weights(&net))?;
        Ok(Single { vs, net, updater, snapshot, lr: config.initial_lr() })
    }
}

impl Step for Single {
    fn begin_epoch(&mut self, rates: &[Option<f64>]) -> Result<()> {
        // A single run that has stopped is never stepped again: the loop ends with it.
        if let Some(&Some(lr)) = rates.first() {
            self.lr = lr;
            self.updater.set_lr(lr)?;
        }
        Ok(())
    }

    fn graph_key(&self) -> u64 {
        self.lr.to_bits()
    }

    fn step(&mut self, idx: &Tensor, splits: &Splits, normalization: &Normalization) -> Result<Tensor> {
        // `[1, len]` → `[len]`: a view.
        let idx = idx.f_reshape([-1]).map_err(torch)?;
        let inputs = splits.inputs(&idx, normalization)?;
        let targets = splits.y_train.f_index_select(0, &idx).map_err(torch)?;
        self.updater.step_on(&self.net, &inputs, &targets)
    }

    fn save(&mut self) -> Result<()> {
        self.snapshot.take()
    }

    fn restore(&mut self, _k: usize) -> Result<()> {
        self.snapshot.restore()
    }

    fn evaluate(&self, _k: usize, splits: &Splits, classes: i64, norm: &Normalization) -> Result<Evaluation> {
        splits.evaluate(&self.net, classes, norm)
    }

    fn into_networks(self) -> Result<Vec<(nn::VarStore, Network)>> {
        Ok(vec![(self.vs, self.net)])
    }
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

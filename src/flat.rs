//! A network's parameters in one flat buffer, and their gradients in another: SGD's update
//! and the zeroing of the gradients become a handful of kernels for the whole network instead
//! of several per parameter.
//!
//! Each parameter keeps its own tensor (the VarStore's, under its PyTorch name), but its data
//! is a view into the flat buffer (`set_data`, as apex and DDP's flat buckets do), and its
//! `.grad` a view into the flat gradient buffer ([`crate::graph::set_grad`]). The gradients get
//! there one of two ways: autograd's `backward()` adds into a defined gradient in place (after
//! `zero_grad`), or [`crate::backprop`] writes them into [`FlatSgd::grads`] directly, as
//! `train` does. The update is libtorch's own SGD (`torch::optim::SGD`, the one tch's
//! `nn::Sgd` builds), run over the single flat tensor: the same operations in the same order
//! on every element as over the separate parameters, so the same numbers.

use anyhow::Result;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use crate::error::{guard, torch};

/// The flat buffers and the optimizer that updates them. With autograd, use it in the usual
/// order — `zero_grad`, forward, backward, `step`; with [`crate::backprop`], which overwrites
/// every gradient, just the backward pass and `step`. Never step between a forward and its
/// backward:
/// `set_data` gives each parameter a version counter of its own, so autograd would not notice
/// the parameters changing under a graph that saved them. Moving the network to another device
/// afterwards detaches its parameters from the buffers; build a new `FlatSgd` there.
pub struct FlatSgd {
    /// Holds the flat parameter, the one variable the optimizer sees.
    _store: nn::VarStore,
    /// The flat parameter buffer: every parameter's data is a view into it.
    flat: Tensor,
    grads: Tensor,
    /// Each parameter's gradient: a view into `grads`, in the order given to [`FlatSgd::new`].
    views: Vec<Tensor>,
    optimizer: nn::Optimizer,
    /// On a GPU with the fused kernel ([`crate::fused`]): the update in one kernel instead of
    /// libtorch's five, the same numbers; `optimizer` then never steps.
    fused: Option<Fused>,
}

/// The fused update's state: what libtorch's SGD keeps for the flat parameter.
struct Fused {
    sgd: Sgd,
    velocity: Tensor,
    stepped: bool,
}

/// SGD's settings, as `torch.optim.SGD` takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

impl FlatSgd {
    /// Moves `parameters` (leaf variables on one device, float32) into one buffer and their
    /// gradients into another, and builds SGD over the buffer.
    pub fn new(parameters: &[Tensor], sgd: Sgd) -> Result<Self> {
        let device = parameters.first().map_or(tch::Device::Cpu, Tensor::device);
        if let Some(odd) = parameters.iter().find(|p| p.device() != device || p.kind() != Kind::Float) {
            anyhow::bail!(
                "flat SGD needs float32 parameters on one device: {:?} on {:?} beside {device:?}",
                odd.kind(),
                odd.device()
            );
        }
        let total: i64 = parameters.iter().map(|p| p.numel() as i64).sum();
        let store = nn::VarStore::new(device);
        let flat = store.root().f_zeros("flat", &[total]).map_err(torch)?;
        let grads = Tensor::f_zeros([total], (Kind::Float, device)).map_err(torch)?;
        let mut offset = 0;
        let mut views = Vec::with_capacity(parameters.len());
        for parameter in parameters {
            let (n, shape) = (parameter.numel() as i64, parameter.size());
            let data = flat.f_narrow(0, offset, n).and_then(|t| t.f_view(shape.as_slice())).map_err(torch)?;
            tch::no_grad(|| data.shallow_clone().f_copy_(parameter)).map_err(torch)?;
            parameter.shallow_clone().set_data(&data.detach());
            let grad =
                grads.f_narrow(0, offset, n).and_then(|t| t.f_view(shape.as_slice())).map_err(torch)?;
            crate::graph::set_grad(parameter, &grad)?;
            views.push(grad);
            offset += n;
        }
        crate::graph::set_grad(&flat, &grads)?;
        let optimizer = nn::Sgd {
            momentum: sgd.momentum,
            dampening: sgd.dampening,
            wd: sgd.weight_decay,
            nesterov: sgd.nesterov,
        }
        .build(&store, sgd.lr)
        .map_err(torch)?;
        let fused = if crate::fused::available(device) && sgd.dampening == 0.0 {
            let velocity = grads.f_zeros_like().map_err(torch)?;
            Some(Fused { sgd, velocity, stepped: false })
        } else {
            None
        };
        Ok(FlatSgd { _store: store, flat: flat.detach(), grads, views, optimizer, fused })
    }

    /// Every gradient set to 0, in one kernel (kept allocated: the views must stay), for
    /// autograd's `backward()` to add into.
    pub fn zero_grad(&mut self) -> Result<()> {
        self.grads.f_zero_().map(drop).map_err(torch)
    }

    /// Each parameter's gradient, a view into the flat buffer (what `backward()` adds into):
    /// where [`crate::backprop`] writes its gradients, so that `step` reads them.
    pub fn grads(&self) -> &[Tensor] {
        &self.views
    }

    /// Every parameter at once: the buffer their data are views into (what one copy saves or
    /// restores).
    pub fn parameters(&self) -> &Tensor {
        &self.flat
    }

    /// One SGD step over every parameter.
    pub fn step(&mut self) -> Result<()> {
        match &mut self.fused {
            Some(f) => {
                let s = &f.sgd;
                let step = crate::fused::Step {
                    lr: s.lr,
                    momentum: s.momentum,
                    weight_decay: s.weight_decay,
                    nesterov: s.nesterov,
                    first: !f.stepped,
                };
                crate::fused::sgd(&self.flat, &self.grads, &f.velocity, step)?;
                f.stepped = true;
                Ok(())
            }
            None => guard("the optimizer step", || self.optimizer.step()),
        }
    }

    /// Whether the update runs as one fused kernel ([`crate::fused`]).
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        if let Some(f) = &mut self.fused {
            f.sgd.lr = lr;
        }
        guard("setting the learning rate", || self.optimizer.set_lr(lr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::Network;

    /// The flat update is today's per-parameter update, bit for bit: the same network, the
    /// same batches, SGD with Nesterov momentum and weight decay, for several steps.
    #[test]
    fn flat_sgd_equals_per_parameter_sgd_bit_for_bit() {
        let _rng = crate::test_rng();
        for widths in [vec![784, 32, 10], vec![20, 7, 5, 3], vec![13, 64, 10]] {
            let build = || {
                tch::manual_seed(3);
                let vs = nn::VarStore::new(tch::Device::Cpu);
                let net = Network::new(&vs.root(), &widths).unwrap();
                (vs, net)
            };
            let sgd = Sgd { lr: 0.05, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: true };
            let (vs_a, net_a) = build();
            let mut plain = nn::Sgd { momentum: 0.9, dampening: 0.0, wd: 5e-4, nesterov: true }
                .build(&vs_a, 0.05)
                .unwrap();
            let (_vs_b, net_b) = build();
            let parameters: Vec<Tensor> = net_b.parameters().into_iter().map(|(_, p)| p).collect();
            let mut flat = FlatSgd::new(&parameters, sgd).unwrap();
            tch::manual_seed(4);
            for step in 0..5 {
                let x = Tensor::randn([16, widths[0]], (Kind::Float, tch::Device::Cpu));
                let y = Tensor::randint(*widths.last().unwrap(), [16], (Kind::Int64, tch::Device::Cpu));
                let loss = |net: &Network| net.f_forward(&x).unwrap().cross_entropy_for_logits(&y);
                plain.zero_grad();
                loss(&net_a).backward();
                plain.step();
                flat.zero_grad().unwrap();
                loss(&net_b).backward();
                flat.step().unwrap();
                if step == 2 {
                    flat.set_lr(0.01).unwrap();
                    plain.set_lr(0.01);
                }
            }
            let (_, untrained) = build();
            for ((name, a), (_, b)) in untrained.parameters().into_iter().zip(net_b.parameters()) {
                assert!(!a.equal(&b), "{widths:?} {name}: the flat update moved nothing");
            }
            for ((name, a), (_, b)) in net_a.parameters().into_iter().zip(net_b.parameters()) {
                let same = a.equal(&b);
                assert!(same, "{widths:?} {name}: max |Δ| {}", (&a - &b).abs().max().double_value(&[]));
            }
        }
    }
}

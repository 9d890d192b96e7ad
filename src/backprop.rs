//! Backpropagation written out: the gradient of the mean cross-entropy with respect to every
//! weight and bias of a [`Network`], layer by layer from the output back — the chain rule that
//! the notebook's `loss.backward()` applies, as the very kernels autograd runs for it, with the
//! same operands in the same layouts, so the same numbers bit for bit on the CPU (tests below
//! hold one step and several SGD steps to that; `tests/integration/train.rs` compares them on
//! CUDA, to 1e-6, where a GPU runs it).
//!
//! For a layer `z = a·Wᵀ + b` followed by a ReLU `a' = max(z, 0)`, with `g = ∂loss/∂z`:
//! - `∂loss/∂W = gᵀ·a` and `∂loss/∂b = Σ_batch g` (two kernels, written straight into the
//!   parameter's slot of the flat gradient buffer);
//! - `∂loss/∂a = g·W`, and through the ReLU below, `∂loss/∂z_below = ∂loss/∂a where a > 0, else 0`
//!   (`threshold_backward`).
//!
//! At the top, the loss is `−mean(log_softmax(z)[target])`: its gradient on the log-probabilities
//! is `−1/batch` at each target (`nll_loss_backward`), and through the log-softmax
//! `g − softmax(z)·Σg` (`_log_softmax_backward_data`).
//!
//! The walk is written once (`backward`) for any `Form` of network: one network (2-D
//! activations, `addmm`/`mm`: [`Backprop`]) or K networks stacked along a member dimension
//! (3-D, `baddbmm`/`bmm`: the population's `Stack`). The layer walk, the order of the
//! kernels, the gradients' layout and the shape checks are shared; only the kernel calls differ.
//!
//! Why training uses it instead of autograd: no graph is recorded during the forward pass and
//! none is walked after it, and each gradient lands where the optimizer reads it, so nothing is
//! zeroed before the step or accumulated into after it. On the CPU that is a shorter step at
//! small batches; on CUDA, a few fewer kernels in every captured step (autograd's seed of 1, the
//! zeroing, and an addition per parameter).

use anyhow::Result;
use tch::{Device, Kind, Reduction, Tensor};

use crate::error::torch;
use crate::mlp::Network;

/// One layer's parameters, or their gradients: the weight, and the bias where there is one.
pub(crate) type Layer = (Tensor, Option<Tensor>);

/// The kernels of one form of network: what differs between one network and K stacked.
pub(crate) trait Form {
    /// `a·Wᵀ + b`, as the forward pass computes a layer.
    fn linear(&self, a: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor>;
    /// The loss of the logits against the targets (what the step returns) and its gradient with
    /// respect to the logits.
    fn loss_and_gradient(&mut self, logits: &Tensor, targets: &Tensor) -> Result<(Tensor, Tensor)>;
    /// `Σ_batch g`, written into the bias's gradient.
    fn bias_gradient(&self, g: &Tensor, into: &Tensor) -> Result<()>;
    /// `gᵀ·a`, written into the weight's gradient.
    fn weight_gradient(&self, g: &Tensor, a: &Tensor, into: &Tensor) -> Result<()>;
    /// `g·W`: the gradient with respect to the layer's input.
    fn input_gradient(&self, g: &Tensor, weight: &Tensor) -> Result<Tensor>;
}

/// The loss of a network of `layers` on `inputs` against `targets`, and its gradients written
/// into `grads` (one per layer, each of its parameter's shape; every element overwritten): the
/// forward pass keeping each layer's input, then the walk back — per layer from the top, the
/// bias's gradient, the weight's, and (below the first) the input's through the ReLU that made
/// it (`threshold_backward`). `form` supplies the kernels.
pub(crate) fn backward<F: Form>(
    form: &mut F,
    layers: &[Layer],
    grads: &[Layer],
    inputs: &Tensor,
    targets: &Tensor,
) -> Result<Tensor> {
    anyhow::ensure!(!layers.is_empty(), "backprop: a network needs at least one layer");
    anyhow::ensure!(
        grads.len() == layers.len(),
        "backprop: gradients for {} layers, the network has {}",
        grads.len(),
        layers.len()
    );
    // `_out` kernels resize a wrongly shaped output (with a warning): into a view of the flat
    // buffer, that would write over the next parameter's gradient.
    for (i, ((w, b), (gw, gb))) in layers.iter().zip(grads).enumerate() {
        let name = |what: &str| format!("fc{}.{what}", i + 1);
        anyhow::ensure!(
            w.size() == gw.size(),
            "backprop: the gradient for {} is {:?}, the parameter {:?}",
            name("weight"),
            gw.size(),
            w.size()
        );
        match (b, gb) {
            (Some(b), Some(gb)) => anyhow::ensure!(
                b.size() == gb.size(),
                "backprop: the gradient for {} is {:?}, the parameter {:?}",
                name("bias"),
                gb.size(),
                b.size()
            ),
            (None, None) => {}
            _ => anyhow::bail!("backprop: {} and its gradient disagree on having one", name("bias")),
        }
    }
    tch::no_grad(|| {
        // Forward, keeping each layer's input: the backward pass needs them.
        let mut activations = vec![inputs.shallow_clone()];
        let last = layers.len() - 1;
        for (i, (w, b)) in layers[..last].iter().enumerate() {
            let a = form.linear(&activations[i], w, b.as_ref())?.f_relu().map_err(torch)?;
            activations.push(a);
        }
        let (w, b) = &layers[last];
        let logits = form.linear(&activations[last], w, b.as_ref())?;
        let (loss, mut g) = form.loss_and_gradient(&logits, targets)?;
        for (i, ((w, _), (w_grad, b_grad))) in layers.iter().zip(grads).enumerate().rev() {
            let below = &activations[i];
            if let Some(b_grad) = b_grad {
                form.bias_gradient(&g, b_grad)?;
            }
            form.weight_gradient(&g, below, w_grad)?;
            if i > 0 {
                g = below.f_threshold_backward(&form.input_gradient(&g, w)?, 0.0).map_err(torch)?;
            }
        }
        Ok(loss)
    })
}

/// One network's form: 2-D activations, and the kernels autograd runs for `linear` and
/// cross-entropy, with the same operands in the same layouts; what a backward pass keeps from
/// one step to the next: the constants it starts from.
pub struct Backprop {
    /// ∂loss/∂loss = 1: where the chain rule starts.
    one: Tensor,
    /// nll_loss's "total weight" for each batch size seen: the mean's denominator. Made the
    /// first time a batch size is stepped, which is always an eager step: a CUDA graph captures
    /// a batch shape only after running it eagerly (`cuda_graph::GraphedStep`), so no cached
    /// tensor is born inside a capture, unfilled until a replay.
    counts: Vec<(i64, Tensor)>,
}

impl Backprop {
    pub fn new(device: Device) -> Result<Self> {
        Ok(Backprop { one: Tensor::f_ones([], (Kind::Float, device)).map_err(torch)?, counts: Vec::new() })
    }

    /// The mean cross-entropy of `net`'s logits on `inputs` (a batch of flattened images)
    /// against `targets` (class indices), returned detached; and its gradients, written into
    /// `grads`: one tensor per parameter in [`Network::parameters`] order (fc1.weight, fc1.bias,
    /// …), each of its parameter's shape. Every element of every gradient is overwritten.
    pub fn loss_and_gradients(
        &mut self,
        net: &Network,
        inputs: &Tensor,
        targets: &Tensor,
        grads: &[Tensor],
    ) -> Result<Tensor> {
        anyhow::ensure!(
            inputs.dim() >= 2 && targets.size() == [inputs.size()[0]],
            "backprop: inputs {:?} and targets {:?} are not a batch and its labels",
            inputs.size(),
            targets.size()
        );
        let layers: Vec<Layer> =
            net.layers().map(|l| (l.ws.shallow_clone(), l.bs.as_ref().map(Tensor::shallow_clone))).collect();
        let parameters = net.parameters().len();
        anyhow::ensure!(
            grads.len() == parameters,
            "backprop: {} gradient tensors for {parameters} parameters",
            grads.len()
        );
        // The flat gradients, grouped as the layers are: a weight, then its bias where it has one.
        let mut slots = grads.iter();
        let grads: Vec<Layer> = layers
            .iter()
            .map(|(_, b)| {
                // Cannot fail: the counts were checked above.
                let w = slots.next().expect("counted").shallow_clone();
                (w, b.as_ref().map(|_| slots.next().expect("counted").shallow_clone()))
            })
            .collect();
        let inputs = inputs.f_flatten(1, -1).map_err(torch)?;
        backward(self, &layers, &grads, &inputs, targets)
    }

    /// The float tensor holding `n`, made once per batch size (a full batch and the last one).
    fn count(&mut self, n: i64, device: Device) -> Result<&Tensor> {
        if let Some(k) = self.counts.iter().position(|(m, _)| *m == n) {
            return Ok(&self.counts[k].1);
        }
        let count = Tensor::f_full([], n as f64, (Kind::Float, device)).map_err(torch)?;
        self.counts.push((n, count));
        // Cannot fail: an element was pushed on the line above.
        Ok(&self.counts.last().expect("just pushed").1)
    }
}

impl Form for Backprop {
    fn linear(&self, a: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        a.f_linear(weight, bias).map_err(torch)
    }

    /// `−mean(log_softmax(z)[target])`; its gradient on the log-probabilities is `−1/batch` at
    /// each target (`nll_loss_backward`), and through the log-softmax `g − softmax(z)·Σg`.
    fn loss_and_gradient(&mut self, logits: &Tensor, targets: &Tensor) -> Result<(Tensor, Tensor)> {
        let total_weight = self.count(logits.size()[0], logits.device())?.shallow_clone();
        let log_probs = logits.f_log_softmax(-1, Kind::Float).map_err(torch)?;
        let loss = log_probs.f_nll_loss(targets, None::<Tensor>, Reduction::Mean, -100).map_err(torch)?;
        let g = log_probs
            .f_nll_loss_backward(&self.one, targets, None::<Tensor>, Reduction::Mean, -100, &total_weight)
            .and_then(|g| Tensor::f_internal_log_softmax_backward_data(&g, &log_probs, 1, Kind::Float))
            .map_err(torch)?;
        Ok((loss, g))
    }

    /// The batch's sum, as autograd reduces a broadcast bias.
    fn bias_gradient(&self, g: &Tensor, into: &Tensor) -> Result<()> {
        g.f_sum_intlist_out(into, [0i64].as_slice(), false, Kind::Float).map(drop).map_err(torch)
    }

    /// `gᵀ·a`, as autograd computes it for `a·Wᵀ` (W stored row-major).
    fn weight_gradient(&self, g: &Tensor, a: &Tensor, into: &Tensor) -> Result<()> {
        g.f_tr().and_then(|gt| gt.f_mm_out(into, a)).map(drop).map_err(torch)
    }

    fn input_gradient(&self, g: &Tensor, weight: &Tensor) -> Result<Tensor> {
        g.f_mm(weight).map_err(torch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn;

    /// The written-out gradients and loss are autograd's, bit for bit: several shapes (one with
    /// no hidden layer), a batch of one, and hidden units that the ReLU switches off.
    #[test]
    fn gradients_equal_autograd_bit_for_bit() {
        let _rng = crate::test_rng();
        for (widths, batch) in
            [(vec![784, 32, 10], 64), (vec![20, 7, 5, 3], 1), (vec![13, 64, 10], 37), (vec![9, 4], 8)]
        {
            tch::manual_seed(11);
            let vs = nn::VarStore::new(Device::Cpu);
            let net = Network::new(&vs.root(), &widths).unwrap();
            let x = Tensor::randn([batch, widths[0]], (Kind::Float, Device::Cpu));
            let y = Tensor::randint(*widths.last().unwrap(), [batch], (Kind::Int64, Device::Cpu));

            let loss = net.f_forward(&x).unwrap().log_softmax(-1, Kind::Float).nll_loss(&y);
            loss.backward();
            let parameters = net.parameters();
            let grads: Vec<Tensor> = parameters.iter().map(|(_, p)| p.zeros_like().fill_(f64::NAN)).collect();
            let mut backprop = Backprop::new(Device::Cpu).unwrap();
            let ours = backprop.loss_and_gradients(&net, &x, &y, &grads).unwrap();

            assert!(ours.equal(&loss.detach()), "{widths:?}: loss {ours} vs {loss}");
            for ((name, p), mine) in parameters.iter().zip(&grads) {
                let theirs = p.grad();
                assert!(
                    theirs.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                    "{widths:?} {name}: no gradient"
                );
                let same = theirs.equal(mine);
                assert!(
                    same,
                    "{widths:?} {name}: max |Δ| {}",
                    (&theirs - mine).abs().max().double_value(&[])
                );
            }
        }
    }

    /// Training as `train` does — one `Backprop` for the run, its gradients written into the flat
    /// buffer that SGD (Nesterov momentum, weight decay) reads — moves the weights exactly as
    /// autograd's gradients in the same flat buffer do, over several steps whose last batch is
    /// shorter (a second batch size for the same `Backprop`).
    #[test]
    fn sgd_on_written_out_gradients_trains_as_on_autograds() {
        let _rng = crate::test_rng();
        let widths = [30i64, 16, 8, 4];
        let build = || {
            tch::manual_seed(5);
            let vs = nn::VarStore::new(Device::Cpu);
            let net = Network::new(&vs.root(), &widths).unwrap();
            let parameters: Vec<Tensor> = net.parameters().into_iter().map(|(_, p)| p).collect();
            let sgd = crate::flat::Sgd {
                lr: 0.1,
                momentum: 0.9,
                dampening: 0.0,
                weight_decay: 5e-4,
                nesterov: true,
            };
            let flat = crate::flat::FlatSgd::new(&parameters, sgd).unwrap();
            (vs, net, flat)
        };
        let (_a, by_autograd, mut sgd_a) = build();
        let (_b, written_out, mut sgd_b) = build();
        let mut backprop = Backprop::new(Device::Cpu).unwrap();
        tch::manual_seed(6);
        for batch in [16, 16, 16, 7] {
            let x = Tensor::randn([batch, widths[0]], (Kind::Float, Device::Cpu));
            let y = Tensor::randint(widths[3], [batch], (Kind::Int64, Device::Cpu));
            sgd_a.zero_grad().unwrap();
            let loss_a = by_autograd.f_forward(&x).unwrap().log_softmax(-1, Kind::Float).nll_loss(&y);
            loss_a.backward();
            sgd_a.step().unwrap();
            let loss_b = backprop.loss_and_gradients(&written_out, &x, &y, sgd_b.grads()).unwrap();
            sgd_b.step().unwrap();
            assert!(loss_b.equal(&loss_a.detach()), "batch of {batch}: loss {loss_b} vs {loss_a}");
        }
        for ((name, a), (_, b)) in by_autograd.parameters().into_iter().zip(written_out.parameters()) {
            assert!(a.equal(&b), "{name}: max |Δ| {}", (&a - &b).abs().max().double_value(&[]));
        }
    }

    /// Gradients that cannot hold what is written are an error, not a panic or a write that
    /// spills into a neighbour's slot: one too few, and one of the wrong shape.
    #[test]
    fn gradients_of_the_wrong_number_or_shape_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Network::zeroed(&vs.root(), &[4, 3, 2]).unwrap();
        let x = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        let y = Tensor::zeros([2], (Kind::Int64, Device::Cpu));
        let mut backprop = Backprop::new(Device::Cpu).unwrap();
        let mut grads: Vec<Tensor> = net.parameters().iter().map(|(_, p)| p.zeros_like()).collect();
        let missing = backprop.loss_and_gradients(&net, &x, &y, &grads[1..]).unwrap_err();
        assert!(missing.to_string().contains("3 gradient tensors for 4 parameters"), "{missing}");
        grads[1] = Tensor::zeros([2], (Kind::Float, Device::Cpu));
        let shape = backprop.loss_and_gradients(&net, &x, &y, &grads).unwrap_err();
        assert!(shape.to_string().contains("fc1.bias is [2], the parameter [3]"), "{shape}");
    }
}

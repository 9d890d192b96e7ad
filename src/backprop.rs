//! Backpropagation written out: the gradient of the mean cross-entropy with respect to every
//! weight and bias of a [`Network`], layer by layer from the output back — the chain rule that
//! the notebook's `loss.backward()` applies, as the very kernels autograd runs for it, in the
//! same order, so the same numbers bit for bit (a test below holds it to that).
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
//! Why training uses it instead of autograd: no graph is recorded during the forward pass and
//! none is walked after it, and each gradient lands where the optimizer reads it, so nothing is
//! zeroed before the step or accumulated into after it. On the CPU that is a shorter step at
//! small batches; on CUDA, five fewer kernels in every captured step.

use anyhow::Result;
use tch::{Device, Kind, Reduction, Tensor};

use crate::error::torch;
use crate::mlp::Network;

/// What a backward pass keeps from one step to the next: the constants it starts from.
pub struct Backprop {
    /// ∂loss/∂loss = 1: where the chain rule starts.
    one: Tensor,
    /// nll_loss's "total weight" for each batch size seen: the mean's denominator.
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
        let layers: Vec<&tch::nn::Linear> = net.layers().collect();
        let wanted = layers.iter().map(|l| 1 + usize::from(l.bs.is_some())).sum::<usize>();
        anyhow::ensure!(
            grads.len() == wanted,
            "backprop: {} gradient tensors for {wanted} parameters",
            grads.len()
        );
        let total_weight = self.count(inputs.size()[0], inputs.device())?.shallow_clone();
        let one = &self.one;
        tch::no_grad(|| {
            // Forward, keeping each layer's input: the backward pass needs them.
            let mut activations = vec![inputs.f_flatten(1, -1).map_err(torch)?];
            let mut logits = None;
            for (i, layer) in layers.iter().enumerate() {
                let z = activations[i].f_linear(&layer.ws, layer.bs.as_ref()).map_err(torch)?;
                if i + 1 < layers.len() {
                    activations.push(z.f_relu().map_err(torch)?);
                } else {
                    logits = Some(z);
                }
            }
            let logits = logits.expect("a Network has at least one layer");
            let log_probs = logits.f_log_softmax(-1, Kind::Float).map_err(torch)?;
            let loss = log_probs.f_nll_loss(targets, None::<Tensor>, Reduction::Mean, -100).map_err(torch)?;

            // Backward: ∂loss/∂log_probs, then through the log-softmax to ∂loss/∂logits.
            let mut g = log_probs
                .f_nll_loss_backward(one, targets, None::<Tensor>, Reduction::Mean, -100, &total_weight)
                .and_then(|g| Tensor::f_internal_log_softmax_backward_data(&g, &log_probs, 1, Kind::Float))
                .map_err(torch)?;
            let mut slot = grads.len();
            for (i, layer) in layers.iter().enumerate().rev() {
                let below = &activations[i];
                if layer.bs.is_some() {
                    slot -= 1;
                    // The bias's gradient: the batch's sum, as autograd reduces a broadcast.
                    let _ = g
                        .f_sum_intlist_out(&grads[slot], [0i64].as_slice(), false, Kind::Float)
                        .map_err(torch)?;
                }
                slot -= 1;
                // ∂loss/∂W = gᵀ·a, computed as autograd computes it for `a·Wᵀ` (W stored row-major).
                let _ = g.f_tr().and_then(|gt| gt.f_mm_out(&grads[slot], below)).map_err(torch)?;
                if i > 0 {
                    // ∂loss/∂a = g·W, then through the ReLU that made `a`.
                    g = g
                        .f_mm(&layer.ws)
                        .and_then(|ga| below.f_threshold_backward(&ga, 0.0))
                        .map_err(torch)?;
                }
            }
            Ok(loss)
        })
    }

    /// The float tensor holding `n`, made once per batch size (a full batch and the last one).
    fn count(&mut self, n: i64, device: Device) -> Result<&Tensor> {
        if let Some(k) = self.counts.iter().position(|(m, _)| *m == n) {
            return Ok(&self.counts[k].1);
        }
        let count = Tensor::f_full([], n as f64, (Kind::Float, device)).map_err(torch)?;
        self.counts.push((n, count));
        Ok(&self.counts.last().expect("just pushed").1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn;

    /// The written-out gradients and loss are autograd's, bit for bit: several shapes, a batch
    /// of one, a last short batch, and hidden units that the ReLU switches off.
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

    /// A wrong number of gradient tensors is an error, not a panic or a silent partial write.
    #[test]
    fn a_missing_gradient_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Network::zeroed(&vs.root(), &[4, 3, 2]).unwrap();
        let grads: Vec<Tensor> = net.parameters().iter().skip(1).map(|(_, p)| p.zeros_like()).collect();
        let x = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        let y = Tensor::zeros([2], (Kind::Int64, Device::Cpu));
        let err = Backprop::new(Device::Cpu).unwrap().loss_and_gradients(&net, &x, &y, &grads).unwrap_err();
        assert!(err.to_string().contains("3 gradient tensors for 4 parameters"), "{err}");
    }
}

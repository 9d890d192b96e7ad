//! A population's networks stacked: every member's parameters in one row of a flat `[K, P]`
//! buffer (P: one network's parameter count, in [`Network::parameters`] order), its gradients
//! and momentum in two more of the same shape. Each layer is a view into the rows — weights
//! `[K, out, in]`, biases `[K, 1, out]` — so the forward pass is one `baddbmm` per layer for
//! all K, the backward pass (written out as [`crate::backprop`] writes one network's) a few
//! batched products per layer, and SGD's update a handful of kernels for every parameter of
//! every member.

use anyhow::Result;
use tch::{nn, Device, Kind, Reduction, Tensor};

use crate::backprop::{backward, Form, Layer};
use crate::error::torch;
use crate::mlp::Network;

pub(super) struct Stack {
    /// `[K, P]`: member k's parameters in row k.
    pub flat: Tensor,
    /// `[K, P]`: their gradients, overwritten by every backward pass.
    grad: Tensor,
    /// `[K, P]`: SGD's momentum buffers.
    velocity: Tensor,
    /// Per layer, views into `flat` and `grad`: (weight `[K, out, in]`, bias `[K, 1, out]`).
    layers: Vec<Layer>,
    layer_grads: Vec<Layer>,
    /// ∂(Σ_k loss_k)/∂(per-sample loss) for each (members, batch length): 1/len, as a mean's
    /// backward gives. Made the first time a batch length is stepped, which is always an eager
    /// step: a CUDA graph captures a batch shape only after running it eagerly
    /// (`cuda_graph::GraphedStep`), so no cached tensor is born inside a capture.
    per_sample: Vec<((i64, i64), Tensor)>,
    /// The 0 a frozen member's change is replaced with.
    still: Tensor,
    /// The update runs as one fused kernel (a GPU with [`crate::fused`]).
    fused: bool,
}

impl Stack {
    /// The members' networks (each `parameters` one network's, in [`Network::parameters`]
    /// order, of layer widths `widths`), stacked on `device`.
    pub fn new(members: &[Vec<Tensor>], widths: &[i64], device: Device) -> Result<Self> {
        let fused = fused_status(device).is_ok();
        Self::build(members, widths, device, fused)
    }

    fn build(members: &[Vec<Tensor>], widths: &[i64], device: Device, fused: bool) -> Result<Self> {
        // Every layer has a weight and a bias ([`Network::new`]'s layers), in that order.
        let per_row: i64 = widths.windows(2).map(|w| w[1] * w[0] + w[1]).sum();
        let rows: Vec<Tensor> = members
            .iter()
            .map(|parameters| {
                let flat: Vec<Tensor> =
                    parameters.iter().map(|p| p.f_reshape([-1])).collect::<Result<_, _>>().map_err(torch)?;
                let row = Tensor::f_cat(&flat, 0).map_err(torch)?;
                anyhow::ensure!(
                    parameters.len() == 2 * (widths.len() - 1) && row.size() == [per_row],
                    "a population member has {} parameters ({:?} values), not a weight and a bias for each \
                     layer of {widths:?}",
                    parameters.len(),
                    row.size()
                );
                Ok(row)
            })
            .collect::<Result<_>>()?;
        let flat = Tensor::f_stack(&rows, 0).and_then(|t| t.f_to_device(device)).map_err(torch)?;
        let grad = flat.f_zeros_like().map_err(torch)?;
        let velocity = flat.f_zeros_like().map_err(torch)?;
        let k = members.len() as i64;
        let views = |buffer: &Tensor| -> Result<Vec<Layer>> {
            let mut offset = 0;
            widths
                .windows(2)
                .map(|w| {
                    let (input, output) = (w[0], w[1]);
                    let weight = buffer.f_narrow(1, offset, output * input)?.f_view([k, output, input])?;
                    offset += output * input;
                    let bias = buffer.f_narrow(1, offset, output)?.f_view([k, 1, output])?;
                    offset += output;
                    Ok((weight, Some(bias)))
                })
                .collect::<Result<_, tch::TchError>>()
                .map_err(torch)
        };
        let (layers, layer_grads) = (views(&flat)?, views(&grad)?);
        let still = Tensor::f_zeros([], (Kind::Float, device)).map_err(torch)?;
        Ok(Stack { flat, grad, velocity, layers, layer_grads, per_sample: Vec::new(), still, fused })
    }

    /// Each member's mean cross-entropy on its batch (`inputs` `[K, B, features]`, `targets`
    /// `[K·B]`, member after member), as a `[K]` tensor; their gradients are left in `grad`.
    /// The members' losses are independent, so the gradient of their sum is each member's own
    /// gradient in its own row: what `Σ_k loss_k` backward gives, written out by the same walk
    /// as one network's ([`crate::backprop::backward`]) with batched kernels.
    pub fn loss_and_gradients(&mut self, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let (k, len) = (inputs.size()[0], inputs.size()[1]);
        let per_sample = self.per_sample(k, len, inputs.device())?;
        let mut form = Stacked { per_sample, still: &self.still };
        backward(&mut form, &self.layers, &self.layer_grads, inputs, targets)
    }

    /// `[K·len]` of 1/len: the gradient a per-member mean hands each of its samples' losses.
    fn per_sample(&mut self, k: i64, len: i64, device: Device) -> Result<Tensor> {
        if let Some((_, t)) = self.per_sample.iter().find(|(shape, _)| *shape == (k, len)) {
            return Ok(t.shallow_clone());
        }
        let t = Tensor::f_ones([k * len], (Kind::Float, device))
            .and_then(|t| t.f_div_scalar(len))
            .map_err(torch)?;
        self.per_sample.push(((k, len), t.shallow_clone()));
        Ok(t)
    }

    /// Member `i` back to its row of `snapshot` (a copy of `flat`), its momentum cleared: where
    /// a diverged member is kept.
    pub fn restore(&mut self, i: i64, snapshot: &Tensor) -> Result<()> {
        tch::no_grad(|| {
            let (row, good) = (self.flat.f_get(i).map_err(torch)?, snapshot.f_get(i).map_err(torch)?);
            row.shallow_clone().f_copy_(&good).map_err(torch)?;
            self.velocity.f_get(i).and_then(|mut v| v.f_zero_()).map(drop).map_err(torch)
        })
    }

    /// One SGD step for every `active` member at once, on the gradients the last backward pass
    /// left, as libtorch's SGD takes it (dampening 0, Nesterov where μ > 0; with μ = 0 the
    /// momentum terms add exact zeros): g ← ∇L + λ·θ; v ← μ·v + g; θ ← θ − lr·(g + μ·v). `lr`,
    /// `mu`, `lambda` and `active` are `[K, 1]`, one entry per member.
    pub fn update(&mut self, lr: &Tensor, mu: &Tensor, lambda: &Tensor, active: &Tensor) -> Result<()> {
        if self.fused {
            // The same arithmetic in one kernel ([`crate::fused`]).
            return crate::fused::sgd_stack(&self.flat, &self.grad, &self.velocity, lr, mu, lambda, active);
        }
        self.update_unfused(lr, mu, lambda, active)
    }

    /// [`Stack::update`] as nine libtorch kernels: the CPU's way, and the fused kernel's oracle.
    fn update_unfused(&mut self, lr: &Tensor, mu: &Tensor, lambda: &Tensor, active: &Tensor) -> Result<()> {
        tch::no_grad(|| {
            // Fallible calls only: inside a capture, a panic would leave the stream capturing.
            let g = self.flat.f_mul(lambda).and_then(|decay| self.grad.f_add(&decay)).map_err(torch)?;
            self.velocity.f_mul_(mu).and_then(|mut v| v.f_add_(&g)).map(drop).map_err(torch)?;
            let step = self.velocity.f_mul(mu).and_then(|m| g.f_add(&m)).map_err(torch)?;
            // A frozen member's slice must not move even where its step is not finite (0·NaN is
            // NaN), so its change is masked, not scaled by 0.
            let change = step.f_mul(lr).and_then(|c| c.f_where_self(active, &self.still)).map_err(torch)?;
            self.flat.f_sub_(&change).map(drop).map_err(torch)
        })
    }

    /// Member `k`'s weights, copied into a network of its own (to evaluate or keep it).
    pub fn member(&self, k: i64, widths: &[i64], device: Device) -> Result<(nn::VarStore, Network)> {
        // Made where it is used: zeros on the device, not a CPU network moved there (a transfer
        // that waits for the device, per parameter), since every epoch evaluates every member.
        let vs = nn::VarStore::new(device);
        let net = Network::zeroed(&vs.root(), widths)?;
        tch::no_grad(|| {
            for (layer, (w, b)) in net.layers().zip(&self.layers) {
                layer.ws.shallow_clone().f_copy_(&w.get(k)).map_err(torch)?;
                if let (Some(bs), Some(b)) = (&layer.bs, b) {
                    bs.shallow_clone().f_copy_(&b.get(k).f_reshape([-1]).map_err(torch)?).map_err(torch)?;
                }
            }
            Ok::<_, anyhow::Error>(())
        })?;
        Ok((vs, net))
    }
}

/// K networks' form of the written-out backward pass: 3-D activations `[K, B, ·]`, each
/// member's layers one batched product (`baddbmm`, `bmm`), each member's loss its batch's mean.
struct Stacked<'a> {
    /// `[K·B]` of 1/B: the gradient each member's mean hands its samples' losses.
    per_sample: Tensor,
    /// nll_loss_backward's total weight, unused without reduction: a 0.
    still: &'a Tensor,
}

impl Form for Stacked<'_> {
    fn linear(&self, a: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let wt = weight.f_transpose(1, 2).map_err(torch)?;
        match bias {
            Some(b) => b.f_baddbmm(a, &wt, 1.0, 1.0),
            None => a.f_bmm(&wt),
        }
        .map_err(torch)
    }

    /// `[K]` losses, and through each row's log-softmax, −1/B at each target.
    fn loss_and_gradient(&mut self, logits: &Tensor, targets: &Tensor) -> Result<(Tensor, Tensor)> {
        let (k, len, classes) = (logits.size()[0], logits.size()[1], logits.size()[2]);
        let log_probs = logits.f_log_softmax(-1, Kind::Float).map_err(torch)?;
        let flat_log_probs = log_probs.f_reshape([k * len, classes]).map_err(torch)?;
        let losses = flat_log_probs
            .f_nll_loss(targets, None::<Tensor>, Reduction::None, -100)
            .and_then(|l| l.f_reshape([k, len])?.f_mean_dim(1, false, Kind::Float))
            .map_err(torch)?;
        let g = flat_log_probs
            .f_nll_loss_backward(&self.per_sample, targets, None::<Tensor>, Reduction::None, -100, self.still)
            .and_then(|g| g.f_view([k, len, classes]))
            .and_then(|g| Tensor::f_internal_log_softmax_backward_data(&g, &log_probs, -1, Kind::Float))
            .map_err(torch)?;
        Ok((losses, g))
    }

    fn bias_gradient(&self, g: &Tensor, into: &Tensor) -> Result<()> {
        g.f_sum_intlist_out(into, [1i64].as_slice(), true, Kind::Float).map(drop).map_err(torch)
    }

    /// ∂W is aᵀ·g stored transposed: the product autograd ran for the batched layer, so writing
    /// the backward pass out left the population's numbers as they were.
    fn weight_gradient(&self, g: &Tensor, a: &Tensor, into: &Tensor) -> Result<()> {
        a.f_transpose(1, 2)
            .and_then(|at| at.f_bmm(g))
            .and_then(|gw| into.f_transpose(1, 2)?.f_copy_(&gw))
            .map(drop)
            .map_err(torch)
    }

    fn input_gradient(&self, g: &Tensor, weight: &Tensor) -> Result<Tensor> {
        g.f_bmm(weight).map_err(torch)
    }
}

/// Whether the population's fused update ([`crate::fused::sgd_stack`]) gives this GPU the
/// unfused update's numbers bit for bit, or why not — asked once per GPU per process: three
/// members (one frozen, its gradients NaN), three steps, parameters and momentum compared.
pub(super) fn fused_status(device: Device) -> std::result::Result<(), String> {
    crate::fused::status(device)?;
    let Device::Cuda(index) = device else { return Err("not a CUDA device".into()) };
    // Keyed apart from the one-network check of the same GPU.
    crate::fused::checked(usize::MAX - index, || {
        let wave = |n: i64, step: f64| crate::fused::wave(n, step, device);
        let widths = [5i64, 4, 3];
        // fc1.weight, fc1.bias, fc2.weight, fc2.bias of a 5-4-3 network, member by member.
        let shapes: [&[i64]; 4] = [&[4, 5], &[4], &[3, 4], &[3]];
        let members: Vec<Vec<Tensor>> = (0..3)
            .map(|m| {
                shapes
                    .iter()
                    .map(|&shape| Ok(wave(shape.iter().product(), 0.3 + 0.1 * m as f64)?.f_view(shape)?))
                    .collect::<Result<Vec<Tensor>>>()
            })
            .collect::<Result<_>>()?;
        let (mut fused, mut unfused) =
            (Stack::build(&members, &widths, device, true)?, Stack::build(&members, &widths, device, false)?);
        let column = |v: [f32; 3]| Tensor::f_from_slice(&v)?.f_view([3, 1])?.f_to_device(device);
        let (lr, mu, lambda) =
            (column([0.05, 0.2, 0.1])?, column([0.9, 0.0, 0.5])?, column([5e-4, 0.0, 1e-3])?);
        let active = Tensor::f_from_slice(&[true, true, false])?.f_view([3, 1])?.f_to_device(device)?;
        for step in 0..3 {
            let grad = wave(fused.grad.numel() as i64, 0.17 + 0.05 * step as f64)?
                .f_view(fused.grad.size().as_slice())?;
            let _ = grad.f_get(2)?.f_fill_(f64::NAN)?;
            fused.grad.f_copy_(&grad)?;
            unfused.grad.f_copy_(&grad)?;
            fused.update(&lr, &mu, &lambda, &active)?;
            unfused.update_unfused(&lr, &mu, &lambda, &active)?;
        }
        let rows = |t: &Tensor| t.f_narrow(0, 0, 2);
        let same = fused.flat.f_equal(&unfused.flat)?
            && rows(&fused.velocity)?.f_equal(&rows(&unfused.velocity)?)?;
        anyhow::ensure!(
            same,
            "the population's fused SGD kernel differs from its unfused update on this GPU"
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop::Backprop;

    /// The parameters of a fresh network of `widths` drawn after each of `seeds`.
    fn networks(widths: &[i64], seeds: &[i64]) -> Vec<Vec<Tensor>> {
        seeds
            .iter()
            .map(|&seed| {
                tch::manual_seed(seed);
                let vs = nn::VarStore::new(Device::Cpu);
                let net = Network::new(&vs.root(), widths).unwrap();
                net.parameters().into_iter().map(|(_, p)| p.detach()).collect()
            })
            .collect()
    }

    /// Each member's loss and gradients are what its own network's backward pass gives
    /// ([`Backprop`], itself autograd's to the bit), to float rounding: a batched product adds
    /// in its own order.
    #[test]
    fn each_members_gradients_are_its_own_networks() {
        let _rng = crate::test_rng();
        let widths = [20i64, 16, 8, 5];
        let (k, len) = (3i64, 12i64);
        let mut networks = Vec::new();
        for seed in 0..k {
            tch::manual_seed(seed);
            let vs = nn::VarStore::new(Device::Cpu);
            let net = Network::new(&vs.root(), &widths).unwrap();
            networks.push((vs, net));
        }
        let parameters: Vec<Vec<Tensor>> = networks
            .iter()
            .map(|(_, n)| n.parameters().into_iter().map(|(_, p)| p.detach()).collect())
            .collect();
        let mut stack = Stack::new(&parameters, &widths, Device::Cpu).unwrap();
        let x = Tensor::randn([k, len, widths[0]], (Kind::Float, Device::Cpu));
        let y = Tensor::randint(widths[3], [k * len], (Kind::Int64, Device::Cpu));
        let losses = stack.loss_and_gradients(&x, &y).unwrap();

        for (m, (_, net)) in networks.iter().enumerate() {
            let m = m as i64;
            let grads: Vec<Tensor> = net.parameters().iter().map(|(_, p)| p.zeros_like()).collect();
            let targets = y.narrow(0, m * len, len);
            let loss = Backprop::new(Device::Cpu)
                .unwrap()
                .loss_and_gradients(net, &x.get(m), &targets, &grads)
                .unwrap();
            let close = |a: &Tensor, b: &Tensor| a.allclose(b, 1e-6, 1e-7, false);
            assert!(close(&losses.get(m), &loss), "member {m}: loss {} vs {loss}", losses.get(m));
            let solo = Tensor::cat(&grads.iter().map(|g| g.reshape([-1])).collect::<Vec<_>>(), 0);
            let row = stack.grad.get(m);
            assert!(solo.abs().sum(Kind::Float).double_value(&[]) > 0.0);
            assert!(close(&row, &solo), "member {m}: max |Δ| {}", (&row - &solo).abs().max());
        }
    }

    /// The flat update is libtorch's SGD, member by member: each active row moves as
    /// `torch::optim::SGD` (tch's `nn::Sgd`: weight decay, Nesterov momentum where μ > 0, plain
    /// SGD where μ = 0) moves that member's parameters on the same gradients, to float rounding;
    /// a frozen member does not move even when its gradient is NaN.
    #[test]
    fn the_update_is_each_members_sgd_and_frozen_members_stay() {
        let _rng = crate::test_rng();
        let widths = [6i64, 4, 3];
        let parameters = networks(&widths, &[0, 1, 2]);
        let mut stack = Stack::new(&parameters, &widths, Device::Cpu).unwrap();
        let settings = [(0.1, 0.9, 5e-4), (0.05, 0.0, 0.0), (0.3, 0.5, 1e-3)];
        let column = |f: fn(&(f64, f64, f64)) -> f64| {
            Tensor::from_slice(&settings.iter().map(|s| f(s) as f32).collect::<Vec<_>>()).view([3, 1])
        };
        let (lr, mu, lambda) = (column(|s| s.0), column(|s| s.1), column(|s| s.2));
        let active = Tensor::from_slice(&[true, true, false]).view([3, 1]);
        // libtorch's SGD over each active member's row, on the gradients the stack computes.
        let reference: Vec<(nn::VarStore, Tensor, nn::Optimizer)> = settings[..2]
            .iter()
            .enumerate()
            .map(|(m, &(lr, momentum, wd))| {
                let vs = nn::VarStore::new(Device::Cpu);
                let row = vs.root().var_copy("row", &stack.flat.get(m as i64));
                let sgd = nn::Sgd { momentum, dampening: 0.0, wd, nesterov: momentum > 0.0 };
                let opt = nn::OptimizerConfig::build(sgd, &vs, lr).unwrap();
                (vs, row, opt)
            })
            .collect();
        let before = stack.flat.copy();
        let x = Tensor::randn([3, 5, 6], (Kind::Float, Device::Cpu));
        let y = Tensor::randint(3, [15], (Kind::Int64, Device::Cpu));
        let mut reference = reference;
        for _ in 0..3 {
            let _ = stack.loss_and_gradients(&x, &y).unwrap();
            let _ = stack.grad.get(2).fill_(f64::NAN);
            stack.update(&lr, &mu, &lambda, &active).unwrap();
            for (m, (_, row, opt)) in reference.iter_mut().enumerate() {
                crate::graph::set_grad(row, &stack.grad.get(m as i64).copy()).unwrap();
                opt.step();
            }
        }
        for (m, (_, row, _)) in reference.iter().enumerate() {
            let ours = stack.flat.get(m as i64);
            assert!(!ours.equal(&before.get(m as i64)), "member {m}: the update moved nothing");
            let worst = (&ours - row).abs().max().double_value(&[]);
            assert!(ours.allclose(row, 1e-6, 1e-7, false), "member {m}: max |Δ| from libtorch's SGD {worst}");
        }
        assert!(stack.flat.get(2).equal(&before.get(2)), "a frozen member moved");
    }

    /// On a GPU the update is one fused kernel doing the nine kernels' arithmetic: the same
    /// parameters and momentum bit for bit, over members with different settings, one with no
    /// momentum, and a frozen one whose gradients are NaN (it stays put in both).
    #[test]
    fn the_fused_update_is_the_unfused_one_bit_for_bit() {
        let Some(device) =
            crate::test_cuda("population::stack::the_fused_update_is_the_unfused_one_bit_for_bit")
        else {
            return;
        };
        let _rng = crate::test_rng();
        let widths = [784i64, 32, 10];
        let members = networks(&widths, &[4, 5, 6, 7]);
        let mut fused = Stack::new(&members, &widths, device).unwrap();
        let mut unfused = Stack::new(&members, &widths, device).unwrap();
        assert!(fused.fused, "a GPU with the shim's kernels must run the fused update");
        let column = |v: [f32; 4]| Tensor::from_slice(&v).view([4, 1]).to_device(device);
        let (lr, mu, lambda) =
            (column([0.05, 0.2, 0.01, 0.1]), column([0.9, 0.0, 0.5, 0.9]), column([5e-4, 0.0, 1e-3, 5e-4]));
        let active = Tensor::from_slice(&[true, true, true, false]).view([4, 1]).to_device(device);
        let before = fused.flat.copy();
        for _ in 0..4 {
            let grad = Tensor::randn(fused.grad.size(), (Kind::Float, device));
            let _ = grad.get(3).fill_(f64::NAN);
            fused.grad.copy_(&grad);
            unfused.grad.copy_(&grad);
            fused.update(&lr, &mu, &lambda, &active).unwrap();
            unfused.update_unfused(&lr, &mu, &lambda, &active).unwrap();
        }
        assert!(fused.flat.get(3).equal(&before.get(3)), "the frozen member moved");
        for m in 0..3 {
            let (a, b) = (fused.flat.get(m), unfused.flat.get(m));
            assert!(!a.equal(&before.get(m)), "member {m} did not move");
            assert!(a.equal(&b), "member {m}: max |Δ| {:e}", (&a - &b).abs().max().double_value(&[]));
            assert!(fused.velocity.get(m).equal(&unfused.velocity.get(m)), "member {m}: momentum differs");
        }
        assert!(fused.flat.equal(&unfused.flat), "the frozen member's row differs");
    }
}

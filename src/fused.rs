//! SGD's update in one CUDA kernel (`src/fused_sgd.cu`, in the CUDA shim): what libtorch's SGD
//! does over one network's flat buffer in five kernels, and the population's update over its
//! `[K, P]` buffers in nine, as one pass that reads each buffer once and writes it once.
//!
//! On a GPU a training step of the notebook's network is launch-bound (a few microseconds of
//! arithmetic per kernel, a few of launching it), so four or eight kernels fewer in every step
//! is time the step no longer waits. The kernels do the unfused kernels' arithmetic, operation
//! for operation (see the .cu file): the same numbers, bit for bit, which the CUDA tests check.
//! Elsewhere — the CPU, or a shim built without nvcc — the unfused update runs.

use std::sync::Mutex;

use anyhow::Result;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::cuda_shim::{api, check};

/// One step of `torch::optim::SGD` with dampening 0, as the kernel takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    /// The first step: the momentum buffer starts as the gradient.
    pub first: bool,
}

/// Whether the fused kernels run on `device` (see [`status`]).
pub fn available(device: Device) -> bool {
    status(device).is_ok()
}

/// Why the fused kernels do not run on `device`, where they do not: not a CUDA device, a shim
/// without them, or a GPU on which they failed their check against libtorch's SGD (made once
/// per process, on the first CUDA device asked about). Where they fail, the unfused update runs:
/// never numbers that differ from libtorch's.
pub fn status(device: Device) -> std::result::Result<(), String> {
    let Device::Cuda(index) = device else {
        return Err("the fused SGD kernels run on CUDA devices only".into());
    };
    let has = api().map_err(|e| format!("{e:#}"))?;
    if has.sgd_flat.is_none() || has.sgd_stack.is_none() {
        return Err("this nnopt was built without the fused SGD kernels (nvcc was missing at build time: \
                    run scripts/setup.sh and rebuild)"
            .into());
    }
    checked(index, || self_check(device))
}

/// The answer of `check` on GPU `index`, asked once per GPU per process (two GPUs of different
/// models run different machine code) and remembered under `CHECKS`.
pub(crate) fn checked(index: usize, check: impl FnOnce() -> Result<()>) -> std::result::Result<(), String> {
    static CHECKS: Mutex<Vec<(usize, std::result::Result<(), String>)>> = Mutex::new(Vec::new());
    // A panic elsewhere leaves the list as it was: still a valid cache.
    let mut checks = CHECKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, answer)) = checks.iter().find(|(i, _)| *i == index) {
        return answer.clone();
    }
    let answer = check().map_err(|e| format!("{e:#}"));
    checks.push((index, answer.clone()));
    answer
}

/// `n` values of `sin(step·i)`: inputs for the self-checks that come from no generator (a
/// user's seeded run draws from libtorch's, and a check must not move it).
pub(crate) fn wave(n: i64, step: f64, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_arange(n, (Kind::Float, device))?.f_mul_scalar(step)?.f_sin()?)
}

/// The fused kernel against libtorch's SGD (`torch::optim::SGD`, which tch's `nn::Sgd` builds)
/// on this GPU: three steps — the first, where the momentum starts as the gradient, then two
/// more — of Nesterov momentum with weight decay over 4 099 values, bit for bit. The values come
/// from `arange`, not libtorch's generator, which a user's seeded run draws from.
fn self_check(device: Device) -> Result<()> {
    let sgd = Step { lr: 0.05, momentum: 0.9, weight_decay: 5e-4, nesterov: true, first: false };
    let start = wave(4099, 0.731, device)?.f_mul_scalar(3.0)?;
    let vs = nn::VarStore::new(device);
    let theirs = vs.root().f_var_copy("p", &start)?;
    let mut reference =
        nn::Sgd { momentum: sgd.momentum, dampening: 0.0, wd: sgd.weight_decay, nesterov: true }
            .build(&vs, sgd.lr)?;
    let ours = start.f_detach_copy()?;
    let velocity = ours.f_zeros_like()?;
    for step in 0..3 {
        let grad = wave(4099, 0.277 + 0.1 * step as f64, device)?.f_mul_scalar(1.0 + step as f64)?;
        crate::graph::set_grad(&theirs, &grad.f_detach_copy()?)?;
        crate::error::guard("libtorch's SGD step", || reference.step())?;
        sgd_unchecked(&ours, &grad, &velocity, Step { first: step == 0, ..sgd })?;
    }
    let same = tch::no_grad(|| theirs.f_equal(&ours))?;
    anyhow::ensure!(
        same,
        "the fused SGD kernel differs from libtorch's SGD on this GPU (max |Δ| {:e}); using libtorch's",
        tch::no_grad(|| (&theirs - &ours).abs().max().double_value(&[]))
    );
    Ok(())
}

/// The pointer tch keeps for `t`: the `at::Tensor*` the shim reads.
fn raw(t: &Tensor) -> *mut std::ffi::c_void {
    t.as_ptr() as *mut std::ffi::c_void
}

/// One step of `torch::optim::SGD` (dampening 0) over `param` (a flat float32 CUDA buffer) with
/// its gradients `grad` and momentum buffer `velocity`, of the same shape. Updates `param` and
/// `velocity` in place, queued on the current stream.
pub fn sgd(param: &Tensor, grad: &Tensor, velocity: &Tensor, step: Step) -> Result<()> {
    if let Err(why) = status(param.device()) {
        anyhow::bail!("{why}");
    }
    sgd_unchecked(param, grad, velocity, step)
}

/// [`sgd`] without asking whether the kernel passed its check: the check itself.
fn sgd_unchecked(param: &Tensor, grad: &Tensor, velocity: &Tensor, sgd: Step) -> Result<()> {
    let api = api()?;
    let Some(f) = api.sgd_flat else { anyhow::bail!("this nnopt was built without the fused SGD kernels") };
    // Safety: three live tensors (the shim checks device, type, layout and sizes) and an
    // out-pointer for the error.
    check(api, "the fused SGD step", |e| unsafe {
        f(
            raw(param),
            raw(grad),
            raw(velocity),
            sgd.weight_decay,
            sgd.momentum,
            sgd.lr,
            i32::from(sgd.nesterov),
            i32::from(sgd.first),
            e,
        )
    })
}

/// The population's SGD step (see `population::stack`): `flat`, `grad` and `velocity` are
/// `[K, P]`, `lr`, `mu`, `lambda` `[K, 1]` float32 and `active` `[K, 1]` bool, all on one CUDA
/// device. Updates `flat` and `velocity` in place; an inactive member's parameters stay as they
/// are. Only for a stack that passed its own check against the unfused update (the stack asks).
pub(crate) fn sgd_stack(
    flat: &Tensor,
    grad: &Tensor,
    velocity: &Tensor,
    lr: &Tensor,
    mu: &Tensor,
    lambda: &Tensor,
    active: &Tensor,
) -> Result<()> {
    let api = api()?;
    let Some(f) = api.sgd_stack else { anyhow::bail!("this nnopt was built without the fused SGD kernels") };
    debug_assert_eq!(active.kind(), Kind::Bool);
    // Safety: seven live tensors (the shim checks them) and an out-pointer for the error.
    check(api, "the population's fused SGD step", |e| unsafe {
        f(raw(flat), raw(grad), raw(velocity), raw(lr), raw(mu), raw(lambda), raw(active), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flat::{FlatSgd, Sgd};

    /// The largest |a − b| over two tensors, NaN where either has one.
    fn gap(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// On a GPU the flat update runs as one fused kernel, and moves the parameters exactly as
    /// libtorch's own SGD (five kernels per parameter) does on the same gradients: weight decay,
    /// Nesterov momentum, a first step, a change of rate; plain momentum; no momentum at all.
    #[test]
    fn the_fused_update_is_libtorchs_sgd_bit_for_bit() {
        let Some(device) = crate::test_cuda("fused::the_fused_update_is_libtorchs_sgd_bit_for_bit") else {
            return;
        };
        let _rng = crate::test_rng();
        let shapes: [&[i64]; 4] = [&[32, 784], &[32], &[10, 32], &[10]];
        for sgd in [
            Sgd { lr: 0.05, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: true },
            Sgd { lr: 0.3, momentum: 0.5, dampening: 0.0, weight_decay: 0.0, nesterov: false },
            Sgd { lr: 0.01, momentum: 0.0, dampening: 0.0, weight_decay: 1e-3, nesterov: false },
        ] {
            tch::manual_seed(9);
            let start: Vec<Tensor> =
                shapes.iter().map(|s| Tensor::randn(*s, (Kind::Float, device))).collect();
            // libtorch's SGD over separate parameters.
            let vs = nn::VarStore::new(device);
            let theirs: Vec<Tensor> =
                start.iter().enumerate().map(|(i, t)| vs.root().var_copy(&format!("p{i}"), t)).collect();
            let nn_sgd = nn::Sgd {
                momentum: sgd.momentum,
                dampening: 0.0,
                wd: sgd.weight_decay,
                nesterov: sgd.nesterov,
            };
            let mut reference = nn_sgd.build(&vs, sgd.lr).unwrap();
            // The fused update over one flat buffer.
            let ours: Vec<Tensor> = start.iter().map(|t| t.copy().set_requires_grad(true)).collect();
            let mut flat = FlatSgd::new(&ours, sgd).unwrap();
            assert!(flat.is_fused(), "a GPU with the shim's kernels must run the fused update");
            for step in 0..6 {
                if step == 3 {
                    reference.set_lr(sgd.lr / 3.0);
                    flat.set_lr(sgd.lr / 3.0).unwrap();
                }
                for ((p, g), shape) in theirs.iter().zip(flat.grads()).zip(shapes) {
                    let grad = Tensor::randn(shape, (Kind::Float, device));
                    crate::graph::set_grad(p, &grad.copy()).unwrap();
                    g.shallow_clone().copy_(&grad);
                }
                reference.step();
                flat.step().unwrap();
            }
            for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
                assert!(!a.equal(&start[i]), "{sgd:?}: parameter {i} did not move");
                assert!(a.equal(b), "{sgd:?}: parameter {i}: max |Δ| {:e} from libtorch's SGD", gap(a, b));
            }
        }
    }
}

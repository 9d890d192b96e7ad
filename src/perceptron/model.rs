//! The notebook's `Perceptron` — `relu(X·w + b)` trained by the delta rule written by hand —
//! and the samples as the rule reads them.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::{normal, NUM_INPUTS};
use crate::error::torch;

/// The notebook's `Perceptron`: `relu(X·w + b)`.
#[derive(Debug)]
pub struct Perceptron {
    /// NUM_INPUTS × 1 weights.
    pub w: Tensor,
    /// One bias.
    pub b: Tensor,
    pub lr: f64,
}

impl Perceptron {
    /// w ~ N(0, 1) from libtorch's global generator (drawn on the CPU, so every device gets the
    /// same numbers), b = 0.
    pub fn new(lr: f64, device: Device) -> Result<Self> {
        let w = normal(&[NUM_INPUTS, 1], 0.0, 1.0).f_to_device(device).map_err(torch)?;
        let b = Tensor::f_zeros([1], (Kind::Float, device)).map_err(torch)?;
        Ok(Perceptron { w, b, lr })
    }

    /// ŷ = max(X·w + b, 0).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let z = x.matmul(&self.w) + &self.b;
        z.maximum(&z.zeros_like())
    }

    /// The notebook's `backward`: the errors y − ŷ that the delta rule scales by.
    pub fn errors(&self, x: &Tensor, y: &Tensor) -> Tensor {
        let y_hat = self.forward(x);
        y.reshape(y_hat.size()) - y_hat
    }

    /// mean((y − ŷ)² / 2).
    pub fn loss(y_hat: &Tensor, y: &Tensor) -> Tensor {
        ((y.reshape(y_hat.size()) - y_hat).pow_tensor_scalar(2) / 2.0).mean(None)
    }

    /// One pass of the delta rule, sample by sample in order: w += lr·e·xᵢᵀ, b += lr·e.
    ///
    /// In place on tensors without grad: the sums PyTorch computes for `w = w + …`, bit for bit,
    /// without a graph growing behind them.
    pub fn train_step(&mut self, x: &Tensor, y: &Tensor) {
        self.train_epoch(&Samples::new(x, y));
    }

    /// One pass of the delta rule over samples prepared once ([`Samples`]).
    pub fn train_epoch(&mut self, samples: &Samples) {
        for (row, column, target) in &samples.rows {
            self.apply(row, column, target, self.lr, &samples.scratch);
        }
    }

    /// The delta rule on sample `i` alone.
    pub fn train_sample(&mut self, x: &Tensor, y: &Tensor, i: i64) {
        // i < x.size()[0], and y holds as many samples as x (make_data): `get` cannot fail.
        let x_i = x.get(i).reshape([1, NUM_INPUTS]);
        let scratch = Scratch::like(&self.w);
        self.apply(&x_i, &x_i.reshape([NUM_INPUTS, 1]), &y.get(i).reshape([1, 1]), self.lr, &scratch);
    }

    /// One delta-rule update with rate `lr` on the sample `row` (1×3), `column` (its 3×1 view)
    /// and `target` (1×1): w += lr·e·xᵀ, b += lr·e, e = y − ŷ. The same
    /// float32 operations in the same order as [`Perceptron::errors`] and `w = w + lr·e·x` (so
    /// the same numbers as PyTorch), written into `scratch` instead of seven fresh result tensors a
    /// sample, where a step is a few microseconds.
    pub(super) fn apply(
        &mut self,
        row: &Tensor,
        column: &Tensor,
        target: &Tensor,
        lr: f64,
        scratch: &Scratch,
    ) {
        let Scratch { z, zero, error, step, change } = scratch;
        let (mut z, mut error, change) = (z.shallow_clone(), error.shallow_clone(), change.shallow_clone());
        // ŷ = max(x·w + b, 0); e = (y − ŷ)·lr; w += e·xᵀ; b += e. (An `_out` call returns a
        // handle to the buffer it wrote, which is already in hand.)
        let _ = row.matmul_out(&z, &self.w);
        z += &self.b;
        let _ = z.maximum_out(&z, zero);
        let _ = target.sub_out(&error, &z);
        error *= lr;
        let _ = step.mul_out(&change, column);
        self.w += &change;
        self.b += step;
    }
}

/// Preallocated results of one delta-rule update (see [`Perceptron::apply`]).
pub(crate) struct Scratch {
    /// x·w + b, then ŷ: 1×1.
    z: Tensor,
    /// 0, for max(z, 0).
    zero: Tensor,
    /// (y − ŷ)·lr: 1×1, and the same numbers as a vector (a view of it) for b's shape.
    error: Tensor,
    step: Tensor,
    /// (y − ŷ)·lr·x: 3×1.
    change: Tensor,
}

impl Scratch {
    fn like(w: &Tensor) -> Self {
        let options = (w.kind(), w.device());
        let error = Tensor::zeros([1, 1], options);
        Scratch {
            z: Tensor::zeros([1, 1], options),
            zero: Tensor::zeros([1, 1], options),
            step: error.reshape([-1]),
            error,
            change: Tensor::zeros([NUM_INPUTS, 1], options),
        }
    }
}

/// The training samples as the delta rule reads them — xᵢ as a 1×3 row and a 3×1 column, and
/// yᵢ as 1×1 — made once for all epochs, with the buffers an update writes. They are views of X and y,
/// so the arithmetic (and every number) is the same as slicing them anew each step; only the
/// slicing is saved.
pub struct Samples {
    pub(super) rows: Vec<(Tensor, Tensor, Tensor)>,
    pub(super) scratch: Scratch,
}

impl Samples {
    pub fn new(x: &Tensor, y: &Tensor) -> Self {
        // i < x.size()[0], and y holds as many samples as x (make_data): `get` cannot fail.
        let rows = (0..x.size()[0])
            .map(|i| {
                let row = x.get(i).reshape([1, NUM_INPUTS]);
                let column = row.reshape([NUM_INPUTS, 1]);
                (row, column, y.get(i).reshape([1, 1]))
            })
            .collect();
        Samples { rows, scratch: Scratch::like(x) }
    }
}

//! The replays that explain a rising loss: the rising epochs run again from the weights they
//! started with, as they ran and with one thing changed ([`Replay`]); [`super::explain`] reads
//! what changed.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::{scalar, EpochRecord, Initial, Perceptron, PerceptronConfig, Samples, NUM_INPUTS};
use crate::error::torch;
use crate::judge::rise::{self as explain, EpochReplay, Kick, LossRise};
use crate::repr::TensorValues;

/// Sample updates the explanation of a rising loss replays, at most (about 1.5 s; at least
/// one epoch is replayed, however many samples it has).
const REPLAY_BUDGET: usize = 50_000;

impl Perceptron {
    /// One pass as [`Perceptron::train_epoch`] makes it, changed as `replay` says, reporting
    /// the samples updated while their prediction was 0 (and their target was not). For
    /// [`explain`]'s replays: each sample's pre-activation is read back, so this is slower.
    pub fn replay_epoch(&mut self, samples: &Samples, replay: Replay) -> Result<Vec<Kick>> {
        let mut kicks = Vec::new();
        for (sample, (row, column, target)) in samples.rows.iter().enumerate() {
            let inactive = scalar(&(row.matmul(&self.w) + &self.b))? <= 0.0;
            let target_value = scalar(target)?;
            if inactive && target_value != 0.0 {
                kicks.push(Kick { sample, target: target_value });
            }
            let lr = match replay {
                Replay::RespectDerivative if inactive => continue,
                // Only a step on an active sample can overshoot; at ŷ = 0 it is a kick, left as is.
                Replay::CapGain { sample: capped, scale } if capped == sample && !inactive => self.lr * scale,
                _ => self.lr,
            };
            self.apply(row, column, target, lr, &samples.scratch);
        }
        Ok(kicks)
    }
}

/// How a replayed pass differs from the pass as it ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Replay {
    AsRun,
    /// No update where x·w + b ≤ 0, as the gradient of (y − relu(z))²/2 has it (relu'(z) = 0).
    RespectDerivative,
    /// `sample`'s steps scaled by `scale` where it is active (x·w + b > 0).
    CapGain {
        sample: usize,
        scale: f64,
    },
}

/// The rising stretch of a finished run, if its loss rose, with what the replays confirm.
pub(super) fn loss_rise(
    config: &PerceptronConfig,
    initial: &Initial,
    history: &[EpochRecord],
    (samples, x, y): (&Samples, &Tensor, &Tensor),
    device: Device,
) -> Result<Option<LossRise>> {
    let mut losses = vec![initial.loss];
    losses.extend(history.iter().map(|r| r.loss));
    Ok(match explain::rising_stretch(&losses) {
        Some((from, to)) => {
            // A step on sample i moves its own pre-activation by lr·e·(|xᵢ|² + 1) (w and b
            // both move), and sample j's by lr·e·(xⱼ·xᵢ + 1).
            let squares = (x * x).sum_dim_intlist(1, false, Kind::Double).to_device(Device::Cpu);
            let step_gains: Vec<f64> = Vec::<f64>::try_from(squares)
                .map_err(torch)?
                .into_iter()
                .map(|s| config.lr * (s + 1.0))
                .collect();
            // One column of X·Xᵀ + 1 at a time: the whole matrix is n² (100 000 samples: 40 GB).
            let column = |k: usize| -> Vec<f64> {
                let moves = (x.matmul(&x.get(k as i64)) + 1.0).to_kind(Kind::Double).to_device(Device::Cpu);
                Vec::<f64>::try_from(moves).unwrap_or_default()
            };
            let largest_step_gain = explain::largest_gain(&step_gains);
            let replays = replay_rise(
                initial,
                history,
                (samples, x, y),
                config.lr,
                (from, to),
                largest_step_gain,
                device,
            )?;
            let rise = LossRise {
                from_epoch: from,
                to_epoch: to,
                start_loss: losses[from - 1],
                peak_loss: losses[to],
                final_loss: losses[losses.len() - 1],
                still_rising: to == config.epochs,
                causes: explain::diagnose(&replays, &step_gains, &column),
                replayed: replays
                    .iter()
                    .map(|r| explain::Replayed {
                        epoch: r.epoch,
                        with_derivative: r.loss_with_derivative,
                        with_cap: r.loss_with_cap,
                    })
                    .collect(),
                largest_step_gain,
            };
            Some(rise)
        }
        None => None,
    })
}

/// Replays epochs `from..=to` from the weights each started with (the history's, which hold
/// float32 values exactly): as they ran, with ReLU's derivative respected, and — where the
/// largest step gain is above 2 — with that sample's step scaled to a gain of
/// [`explain::CAPPED_GAIN`].
fn replay_rise(
    initial: &Initial,
    history: &[EpochRecord],
    (samples, x, y): (&Samples, &Tensor, &Tensor),
    lr: f64,
    (from, to): (usize, usize),
    (widest, gain): (usize, f64),
    device: Device,
) -> Result<Vec<EpochReplay>> {
    let tensor = |values: &TensorValues, shape: &[i64]| -> Result<Tensor> {
        let floats: Vec<f32> = values.flat().into_iter().map(|v| v as f32).collect();
        Tensor::f_from_slice(&floats).and_then(|t| t.f_reshape(shape)?.f_to_device(device)).map_err(torch)
    };
    let replayed = |w: &TensorValues, b: &TensorValues, replay: Replay| -> Result<(Vec<Kick>, f64)> {
        let mut model = Perceptron { w: tensor(w, &[NUM_INPUTS, 1])?, b: tensor(b, &[1])?, lr };
        let kicks = model.replay_epoch(samples, replay)?;
        Ok((kicks, scalar(&Perceptron::loss(&model.forward(x), y))?))
    };
    // Each replayed epoch reads every sample's pre-activation back (~30 µs a sample, three
    // times): past REPLAY_BUDGET sample updates, evenly spaced epochs of the stretch stand for it.
    let count = (to - from + 1).min((REPLAY_BUDGET / samples.rows.len()).max(1));
    let mut replays = Vec::new();
    for epoch in (0..count).map(|i| from + i * (to - from + 1) / count) {
        let (w, b, loss_before) = match epoch {
            1 => (&initial.w, &initial.b, initial.loss),
            _ => {
                let before = &history[epoch - 2];
                (&before.w, &before.b, before.loss)
            }
        };
        let (kicks, _) = replayed(w, b, Replay::AsRun)?;
        let (_, loss_with_derivative) = replayed(w, b, Replay::RespectDerivative)?;
        let loss_with_cap = match gain > 2.0 {
            true => Some(
                replayed(w, b, Replay::CapGain { sample: widest, scale: explain::CAPPED_GAIN / gain })?.1,
            ),
            false => None,
        };
        replays.push(EpochReplay { epoch, loss_before, kicks, loss_with_derivative, loss_with_cap });
    }
    Ok(replays)
}

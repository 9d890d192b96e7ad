//! One run: an optimizer from one start for at most `steps` steps, with the trajectory and
//! the loss at every point kept, stopped when the gradient vanishes or the point runs away;
//! then the verdict on where it ended.

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tch::Device;

use super::optimizer::{grid_points, Optimizer, Stepper};
use super::surface::{Minimum, Surface};
use super::verdict::{self, Final, Stall, Status};
use crate::error::{ensure_usage, torch};

/// A point this many times farther out than the domain's edge has left it "by orders of
/// magnitude": the run diverged.
const ESCAPE_FACTOR: f64 = 1e3;

/// What one run is: the optimizer and its settings.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    pub optimizer: Optimizer,
    /// Unused by the searches.
    pub lr: f64,
    /// Used by momentum and nesterov only.
    pub momentum: f64,
    /// Gradient steps at most, or a search's samples.
    pub steps: usize,
    pub tol: f64,
    pub device: Device,
    /// Seeds a random search.
    pub seed: u64,
}

/// One optimizer from one start.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub optimizer: Optimizer,
    /// The update rule, in the textbook's notation.
    pub rule: &'static str,
    /// Null for a search, which takes no gradient step.
    pub lr: Option<f64>,
    /// μ for momentum and nesterov; null for the others.
    pub momentum: Option<f64>,
    pub start: Vec<f64>,
    /// The start and the point after every step (a search: the best point after each sample).
    pub trajectory: Vec<Vec<f64>>,
    /// f at each point of `trajectory`.
    pub losses: Vec<f64>,
    #[serde(rename = "final")]
    pub end: Final,
    /// What the run did, in one sentence that claims only what `end` supports.
    pub outcome: String,
}

/// Runs one optimizer from `start` and judges where it ended; the sentence that says so is
/// left empty for the report ([`super::run_one`] writes it).
pub(super) fn descend_from(
    surface: Surface,
    minima: &[Minimum],
    spec: RunSpec,
    start: &[f64],
) -> Result<Run> {
    ensure_usage(start.len() == surface.dimensions(), || {
        format!(
            "a start of {} coordinate(s) on the {}-D surface {}",
            start.len(),
            surface.dimensions(),
            surface.name()
        )
    })?;
    let optimizer = spec.optimizer;
    let (trajectory, losses, status, gradient_norm, stall) = if optimizer.uses_gradient() {
        descend(surface, minima, spec, start)?
    } else {
        let (trajectory, losses) = search(surface, spec, start)?;
        (trajectory, losses, Status::Searched, None, None)
    };
    let point = trajectory.last().cloned().unwrap_or_default();
    let loss = *losses.last().unwrap_or(&f64::NAN);
    // A diverged run ended nowhere; a stalled one at a point that is no minimum (a ridge top, a
    // saddle, a plateau), even where that point lies inside some minimum's basin.
    let mut basin = match status {
        Status::Diverged | Status::Stalled => None,
        _ => surface.basin(&point, minima)?,
    };
    let (motion, oscillation) = match status {
        Status::MaxSteps => {
            let (m, o) = verdict::motion(&trajectory, &losses, basin.as_ref().map(|b| b.value));
            (Some(m), o)
        }
        _ => (None, None),
    };
    // A swing that grows is leaving the basin it happens to be in, not heading for its minimum.
    if oscillation.as_ref().is_some_and(|o| o.amplitude == verdict::Amplitude::Growing) {
        basin = None;
    }
    let minimum = verdict::reached(status, &point, loss, basin.as_ref(), spec.tol);
    let end = Final {
        left_domain_at: verdict::left_domain_at(&surface.domain(), &trajectory),
        steps: trajectory.len() - 1,
        point,
        loss,
        status,
        motion,
        oscillation,
        stall,
        gradient_norm,
        minimum,
        basin,
    };
    Ok(Run {
        optimizer,
        rule: optimizer.rule(),
        lr: optimizer.uses_gradient().then_some(spec.lr),
        momentum: optimizer.uses_momentum().then_some(spec.momentum),
        start: start.to_vec(),
        trajectory,
        losses,
        end,
        outcome: String::new(),
    })
}

/// The trajectory, its losses, how it stopped, ‖∇f‖ at the end and why it stalled.
type Descent = (Vec<Vec<f64>>, Vec<f64>, Status, Option<f64>, Option<Stall>);

/// A gradient method: step until ‖∇f‖ < tol, the point runs away, or the steps run out.
fn descend(surface: Surface, minima: &[Minimum], spec: RunSpec, start: &[f64]) -> Result<Descent> {
    let mut stepper = Stepper::new(spec.optimizer, start, spec.lr, spec.momentum, spec.device)?;
    let bound: Vec<f64> =
        surface.domain().0.iter().map(|[lo, hi]| ESCAPE_FACTOR * lo.abs().max(hi.abs())).collect();
    let mut trajectory = vec![start.to_vec()];
    let mut losses = Vec::new();
    loop {
        let (loss, grad) = stepper.evaluate(surface)?;
        losses.push(loss);
        let here = trajectory.last().cloned().unwrap_or_default();
        let escaped = here.iter().zip(&bound).any(|(x, b)| x.abs() > *b);
        if !loss.is_finite() || here.iter().any(|x| !x.is_finite()) || escaped {
            // Its gradient is of no point the run ended at (the last one was left behind).
            return Ok((trajectory, losses, Status::Diverged, None, None));
        }
        let norm = grad.f_norm().and_then(|n| n.f_double_value(&[])).map_err(torch)?;
        if norm < spec.tol {
            let (status, stall) = settle(surface, minima, &here, norm)?;
            return Ok((trajectory, losses, status, Some(norm), stall));
        }
        if trajectory.len() > spec.steps {
            return Ok((trajectory, losses, Status::MaxSteps, Some(norm), None));
        }
        stepper.step(&grad)?;
        trajectory.push(stepper.point()?);
    }
}

/// Where the gradient vanished: a minimum only where f curves up around the point (not at the
/// top of a ridge or a saddle, where the gradient vanishes too), and then only inside a listed
/// minimum's basin or where f rises in every direction (a minimum past the domain's edge).
fn settle(surface: Surface, minima: &[Minimum], here: &[f64], norm: f64) -> Result<(Status, Option<Stall>)> {
    let listed = surface.basin(here, minima)?.is_some();
    let curves_down = !surface.curves_up(here)?;
    if !curves_down && (listed || surface.is_strict_minimum(here)?) {
        return Ok((Status::Converged, None));
    }
    // Flat before curving down: a step surface's plateau ends in a drop that a finite-difference
    // probe sees as curving down, yet what stops gradient descent there is the flatness. The
    // saddle's centre has a zero gradient too, but is not flat.
    let stall = if norm == 0.0 && surface.is_flat_on_a_side(here)? {
        Stall::Flat
    } else if curves_down {
        Stall::CurvesDown
    } else {
        Stall::NearlyFlat
    };
    Ok((Status::Stalled, Some(stall)))
}

/// A search: `steps` samples of the domain (uniform from the seed, or an even grid), keeping
/// the best point; the trajectory is the best point after each sample, from the start.
fn search(surface: Surface, spec: RunSpec, start: &[f64]) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let domain = surface.domain().0;
    let samples: Vec<Vec<f64>> = match spec.optimizer {
        Optimizer::GridSearch => grid_points(&domain, spec.steps),
        _ => {
            let mut rng = StdRng::seed_from_u64(spec.seed);
            (0..spec.steps)
                .map(|_| domain.iter().map(|[lo, hi]| lo + rng.random::<f64>() * (hi - lo)).collect())
                .collect()
        }
    };
    let mut best = (start.to_vec(), surface.value(start)?);
    let mut trajectory = vec![best.0.clone()];
    let mut losses = vec![best.1];
    for x in samples {
        let v = surface.value(&x)?;
        if v < best.1 {
            best = (x, v);
        }
        trajectory.push(best.0.clone());
        losses.push(best.1);
    }
    Ok((trajectory, losses))
}

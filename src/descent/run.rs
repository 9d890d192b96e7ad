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
use crate::error::{ensure_usage, torch};
use crate::judge::motion::{self as verdict, Final, Heading, Stall, Status, CONTINUED};

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
    /// Steps a run out of steps is continued, at most, to see where it heads (at most
    /// [`CONTINUED`]; a command of many runs shares [`super::MAX_TOTAL_STEPS`] among them).
    pub continued: usize,
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
    let (trajectory, losses, status, gradient_norm, stall, continuation) = if optimizer.uses_gradient() {
        descend(surface, minima, spec, start)?
    } else {
        let (trajectory, losses) = search(surface, spec, start)?;
        (trajectory, losses, Status::Searched, None, None, None)
    };
    let point = trajectory.last().cloned().unwrap_or_default();
    let loss = *losses.last().unwrap_or(&f64::NAN);
    // A diverged run ended nowhere; a stalled one at a point that is no minimum (a ridge top, a
    // saddle, a plateau), even where that point lies inside some minimum's basin.
    let position_basin = match status {
        Status::Diverged | Status::Stalled => None,
        _ => surface.basin(&point, minima)?,
    };
    let (motion, oscillation) = match status {
        Status::MaxSteps => {
            // The basin's floor only scales "what is left to fall"; it claims nothing.
            let ahead = continuation.as_ref().map_or(&[][..], |(_, a)| &a[..]);
            let (m, o) =
                verdict::motion(&trajectory, &losses, position_basin.as_ref().map(|b| b.value), ahead);
            (Some(m), o)
        }
        _ => (None, None),
    };
    let minimum = verdict::reached(status, &point, loss, position_basin.as_ref(), spec.tol);
    // Where a run with velocity or moments will go is not where its point lies: momentum at
    // step 6 sits in the local basin while it is carried to the global one. Only a run whose
    // state is its point, or one that came to rest, is in the basin it lies in.
    let stateless = matches!(optimizer, super::Optimizer::Gd) || !optimizer.uses_gradient();
    let basin = position_basin.filter(|_| stateless || status != Status::MaxSteps);
    let near = match minimum {
        None if status != Status::Diverged => verdict::near(&point, loss, minima, &surface.domain()),
        _ => None,
    };
    let swung = (status == Status::Converged).then(|| verdict::swung(&trajectory)).flatten();
    let heading = continuation.map(|(h, _)| h);
    let end = Final {
        left_domain_at: verdict::left_domain_at(&surface.domain(), &trajectory),
        steps: trajectory.len() - 1,
        point,
        loss,
        status,
        motion,
        oscillation,
        heading,
        near,
        swung,
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

/// The trajectory, its losses, how it stopped, ‖∇f‖ at the end, why it stalled, and for a run
/// out of steps where it is heading.
type Descent =
    (Vec<Vec<f64>>, Vec<f64>, Status, Option<f64>, Option<Stall>, Option<(Heading, Vec<Vec<f64>>)>);

/// A gradient method: step until ‖∇f‖ < tol, the point runs away, or the steps run out; a run
/// out of steps is continued from its whole state (the same stepper) to see where it goes.
fn descend(surface: Surface, minima: &[Minimum], spec: RunSpec, start: &[f64]) -> Result<Descent> {
    let mut stepper = Stepper::new(spec.optimizer, start, spec.lr, spec.momentum, spec.device)?;
    let (mut trajectory, mut losses) = (Vec::new(), Vec::new());
    let (status, norm, stall, _) = walk(&mut stepper, surface, minima, &spec, spec.steps, &mut |p, l| {
        trajectory.push(p);
        losses.push(l);
    })?;
    let heading = match status {
        // A command of many runs may leave no budget to continue them: then no heading is claimed.
        Status::MaxSteps if spec.continued > 0 => Some(continued(&mut stepper, surface, minima, &spec)?),
        _ => None,
    };
    Ok((trajectory, losses, status, norm, stall, heading))
}

/// Where the run goes when it is given [`CONTINUED`] more steps, and its first points then (the
/// point it stopped at first).
fn continued(
    stepper: &mut Stepper,
    surface: Surface,
    minima: &[Minimum],
    spec: &RunSpec,
) -> Result<(Heading, Vec<Vec<f64>>)> {
    let (mut last, mut ahead) = (Vec::new(), Vec::new());
    let (status, _, _, taken) =
        walk(stepper, surface, minima, spec, spec.continued.min(CONTINUED), &mut |p, _| {
            if ahead.len() <= AHEAD {
                ahead.push(p.clone());
            }
            last = p;
        })?;
    let heading = match status {
        Status::Converged => match surface.basin(&last, minima)? {
            Some(minimum) => Heading::Minimum { minimum, after_steps: taken },
            None => Heading::Elsewhere { status, point: last, after_steps: taken },
        },
        Status::Stalled => Heading::Elsewhere { status, point: last, after_steps: taken },
        Status::Diverged => Heading::Away { after_steps: taken },
        _ => Heading::Unknown { steps: taken },
    };
    // The first point is where the run stopped; the rest lie ahead.
    ahead.remove(0);
    Ok((heading, ahead))
}

/// The continued run's points kept for judging its swing: enough for four slow swings.
const AHEAD: usize = 400;

/// How a walk stopped, ‖∇f‖ where it stopped, why it stalled, and the steps it took.
type Walked = (Status, Option<f64>, Option<Stall>, usize);

/// Steps until ‖∇f‖ < tol, the point runs away, or `steps` steps are taken; `visit` sees each
/// point with its loss, the first included.
fn walk(
    stepper: &mut Stepper,
    surface: Surface,
    minima: &[Minimum],
    spec: &RunSpec,
    steps: usize,
    visit: &mut dyn FnMut(Vec<f64>, f64),
) -> Result<Walked> {
    let bound: Vec<f64> =
        surface.domain().0.iter().map(|[lo, hi]| ESCAPE_FACTOR * lo.abs().max(hi.abs())).collect();
    let mut taken = 0;
    loop {
        let (loss, grad) = stepper.evaluate(surface)?;
        let here = stepper.point()?;
        visit(here.clone(), loss);
        let escaped = here.iter().zip(&bound).any(|(x, b)| x.abs() > *b);
        if !loss.is_finite() || here.iter().any(|x| !x.is_finite()) || escaped {
            // Its gradient is of no point the run ended at (the last one was left behind).
            return Ok((Status::Diverged, None, None, taken));
        }
        let norm = grad.f_norm().and_then(|n| n.f_double_value(&[])).map_err(torch)?;
        if norm < spec.tol {
            let (status, stall) = settle(surface, minima, &here, norm)?;
            return Ok((status, Some(norm), stall, taken));
        }
        if taken == steps {
            return Ok((Status::MaxSteps, Some(norm), None, taken));
        }
        stepper.step(&grad)?;
        taken += 1;
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

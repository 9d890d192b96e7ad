//! What a descent run did, in terms it can support: how it stopped (`status`), what it was
//! doing when the steps ran out (`motion`), whether it *reached* a known minimum (`minimum`),
//! where it is heading (`heading`: the same optimizer continued from its whole state, never the
//! position alone), how far it ended from the nearest known minimum (`near`), and where it left
//! the domain the minima are claimed on (`left_domain_at`). Only `minimum` may be told as
//! "reached the global minimum": a run that swings between 5 and −5 on x² is in the global
//! minimum's basin and has reached nothing.
//!
//! The functions here are pure: they read a trajectory and its losses, not the surface.

use serde::Serialize;

use crate::descent::surface::{Domain, Minimum};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// ‖∇f‖ fell below `--tol` at a minimum: f curves up there.
    Converged,
    /// A non-finite value, or the point went past the domain by orders of magnitude.
    Diverged,
    /// ‖∇f‖ below `--tol` at a point that is no minimum: a plateau, a ridge top, a saddle.
    Stalled,
    /// `--steps` ran out first; `motion` says what the run was doing.
    MaxSteps,
    /// A search spent its `--steps` samples; the best point is kept.
    Searched,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::Diverged => "diverged",
            Status::Stalled => "stalled",
            Status::MaxSteps => "max-steps",
            Status::Searched => "searched",
        }
    }
}

/// What a run that ran out of steps was doing over its last steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Motion {
    /// The loss clearly still falls, by at least 1 % of what is left over the window (perhaps
    /// zigzagging across a valley: then `oscillation` says between which points).
    Descending,
    /// Swinging with no downward trend: each step reversing the one before, or a longer cycle.
    Oscillating,
    /// Moving, but over the window the loss fell by less than 1 % of what is left to fall to
    /// its basin's minimum (or of its size, where none is known).
    Crawling,
    /// The loss rises over the window without swinging (carried uphill).
    Climbing,
    /// Moving on without turning back while its loss rises and falls with no trend: crossing
    /// the bumps of a surface, carried by its velocity.
    Travelling,
    /// Too few steps (fewer than three) to tell.
    Undetermined,
}

/// How the swing's size changes over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Amplitude {
    Growing,
    Steady,
    Shrinking,
    /// Fewer than two widths (turning point to turning point) to compare.
    Undetermined,
    /// Its last swings grew or shrank, and continued, the next ones do the other: the swing's
    /// size is itself swinging (RMSprop's does).
    Varying,
}

/// An oscillation: the last two points it swings between, and whether the swing grows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Oscillation {
    pub between: [Vec<f64>; 2],
    pub amplitude: Amplitude,
    /// The evidence: the widths of its last swings (turning point to turning point), oldest
    /// first, at most sixteen.
    pub widths: Vec<f64>,
    /// The widths of the next swings (at most four) of the run continued, where it was.
    pub next: Vec<f64>,
}

/// Where a run that ran out of steps is heading: the same optimizer continued from its whole
/// final state (the point and, for momentum, Adam and RMSprop, their velocity and moment
/// estimates) for at most [`CONTINUED`] more steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "to", rename_all = "kebab-case")]
pub enum Heading {
    /// Continued, it converges at a known minimum after `after_steps` more steps.
    Minimum { minimum: Minimum, after_steps: usize },
    /// Continued, it stops somewhere that is no listed minimum (outside the domain, a stall).
    Elsewhere { status: Status, point: Vec<f64>, after_steps: usize },
    /// Continued, it diverges after `after_steps` more steps.
    Away { after_steps: usize },
    /// Continued for `steps` more steps, it has not come to rest: where it goes is not known.
    Unknown { steps: usize },
}

/// The most steps a run is continued to see where it is heading.
pub const CONTINUED: usize = 5_000;

/// How far a run that reached no minimum ended from the nearest known one, where that is
/// within 1 % of the domain's width.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Near {
    pub minimum: Minimum,
    pub distance: f64,
    /// f there minus the minimum's value.
    pub above: f64,
}

/// How long a converged run swung around before it settled: from its first turning point to
/// its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Swung {
    /// The first turning point's step and the last's.
    pub from: usize,
    pub to: usize,
    pub turns: usize,
}

/// Why a stalled run stopped where no minimum is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stall {
    /// f is exactly constant around the point: a plateau, no gradient points anywhere.
    Flat,
    /// f still falls along some direction: a maximum or a saddle.
    CurvesDown,
    /// The gradient vanished away from every minimum (nearly flat).
    NearlyFlat,
}

/// The end of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Final {
    pub point: Vec<f64>,
    pub loss: f64,
    pub steps: usize,
    pub status: Status,
    /// For `max-steps`: what the run was doing.
    pub motion: Option<Motion>,
    /// For an oscillating run: between which points.
    pub oscillation: Option<Oscillation>,
    /// For `max-steps`: where the same optimizer, continued from its final state, goes.
    pub heading: Option<Heading>,
    /// For a run that reached no minimum: the nearest known one, within 1 % of the domain.
    pub near: Option<Near>,
    /// For a run that converged: how long it swung first (three turning points or more).
    pub swung: Option<Swung>,
    /// For `stalled`: why the gradient says nothing there.
    pub stall: Option<Stall>,
    /// ‖∇f‖ at the final point (null where it diverged, and for a search).
    pub gradient_norm: Option<f64>,
    /// The known minimum the run reached (converged there, or ended within --tol of it, or at
    /// its value), else null.
    pub minimum: Option<Minimum>,
    /// The known minimum whose basin of attraction the final point lies in, where known — only
    /// for a run whose whole state is its point (gd, a search) or that came to rest: momentum's
    /// or Adam's velocity may carry it out of the basin it is in (see `heading`).
    pub basin: Option<Minimum>,
    /// The step (0 = the start) at which the run first left the surface's domain.
    pub left_domain_at: Option<usize>,
}

/// The last steps a verdict on motion looks at: a quarter of the run, from 3 to 50 steps.
fn window(points: usize) -> usize {
    (points.saturating_sub(1) / 4).clamp(3, 50).min(points.saturating_sub(1))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The least-squares line through `ys` (at 0, 1, 2, …): its total change over the window and
/// the standard deviation of what it leaves unexplained.
fn trend(ys: &[f64]) -> (f64, f64) {
    let n = ys.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = (0..ys.len()).map(|i| (i as f64 - mx).powi(2)).sum();
    let sxy: f64 = ys.iter().enumerate().map(|(i, y)| (i as f64 - mx) * (y - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let residual =
        ys.iter().enumerate().map(|(i, y)| (y - my - slope * (i as f64 - mx)).powi(2)).sum::<f64>();
    (slope * (n - 1.0), (residual / n).sqrt())
}

/// Two swing widths within this fraction of each other are the same size.
const SAME: f64 = 0.05;

/// Growing, steady or shrinking: `late` against `early` (widths of a swing), [`SAME`] either way.
fn amplitude(early: f64, late: f64) -> Amplitude {
    if late > (1.0 + SAME) * early {
        Amplitude::Growing
    } else if late < (1.0 - SAME) * early {
        Amplitude::Shrinking
    } else {
        Amplitude::Steady
    }
}

/// The range of a slice.
fn spread(ys: &[f64]) -> f64 {
    ys.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - ys.iter().fold(f64::INFINITY, |a, &b| a.min(b))
}

/// What a run that ran out of steps was doing, from its last points and losses. `floor` is the
/// value of the minimum whose basin it is in, where known: "crawling" (and a zigzag that still
/// descends) is judged against what is left to fall, not against the loss's size. `ahead` is
/// the run continued (its next points, where known): a swing's trend is called only where it
/// goes on.
pub fn motion(
    trajectory: &[Vec<f64>],
    losses: &[f64],
    floor: Option<f64>,
    ahead: &[Vec<f64>],
) -> (Motion, Option<Oscillation>) {
    let (n, w) = (trajectory.len(), window(trajectory.len()));
    if w < 2 || losses.len() != n {
        return (Motion::Undetermined, None);
    }
    let ls = &losses[n - 1 - w..];
    let points: Vec<&Vec<f64>> = trajectory[n - 1 - w..].iter().collect();
    // The window's w moves hold w − 1 places to turn; swinging: three in four of them turn.
    let reversals = turns(&points).len();
    let swinging = reversals * 4 >= (w - 1) * 3;
    // A clear trend: the fitted line moves more than twice what it leaves unexplained.
    let (change, noise) = trend(ls);
    let (falling, rising) = (-change > 2.0 * noise, change > 2.0 * noise);
    let left = match floor {
        Some(f) => ls[0] - f,
        None => ls[0].abs().max(ls[w].abs()),
    }
    .max(f64::MIN_POSITIVE);
    // Still falling at the end: the loss is no higher than two steps before (two, so that a
    // zigzag across a valley, whose loss falls every other step, still counts). Adam's loss that
    // fell over the window and turned up over its last six steps is climbing now.
    let rising_now = ls[w] > ls[w - 2];
    // Falling by at least 1 % of what is left over the window, and still: getting somewhere.
    let progressing = falling && ls[0] - ls[w] >= 0.01 * left && !rising_now;
    let oscillation = swing(trajectory, ahead);
    // Turning points count where they are recent: within four windows of the end (a swing too
    // slow for one window still shows; one that stopped 300 steps ago does not).
    let turns = turning_points(trajectory).into_iter().filter(|&t| t + 4 * w + 1 >= n).count();
    // A swing needs turning points: a loss that rises and falls while the point moves on (over a
    // surface's bumps) is no oscillation, and a swing too slow for the window still has them.
    if swinging || (!falling && !rising && turns >= 2) {
        if let Some(o) = oscillation {
            // Zigzagging across a valley while its loss still clearly falls is descending.
            let motion = if progressing { Motion::Descending } else { Motion::Oscillating };
            return (motion, Some(o));
        }
    }
    // Climbing: the loss rose over the window (or fell there, then rose over its last two
    // steps), its last step included; a last step that fell after a rise is a turn, or a bump
    // crossed, judged below.
    if (rising || (falling && rising_now)) && ls[w] > ls[w - 1] {
        return (Motion::Climbing, None);
    }
    if progressing {
        // Still falling; where it also swings within the window (a damped ring), say between what.
        (Motion::Descending, oscillation.filter(|_| reversals >= 2))
    } else if spread(ls) < 0.01 * left {
        (Motion::Crawling, None)
    } else if turns >= 2 && oscillation.is_some() {
        (Motion::Oscillating, oscillation)
    } else if turns == 0 {
        (Motion::Travelling, None)
    } else {
        // It turned back once lately: a swing, too young to say between what.
        (Motion::Oscillating, None)
    }
}

/// The turning points of a path (indices into it): the points where the move in and the move
/// out disagree (their dot product is negative). The one rule for a turn, used by the motion,
/// the swing and how long a converged run swung.
fn turns(path: &[&Vec<f64>]) -> Vec<usize> {
    let moves: Vec<Vec<f64>> =
        path.windows(2).map(|p| p[1].iter().zip(p[0]).map(|(b, a)| b - a).collect()).collect();
    (0..moves.len().saturating_sub(1))
        .filter(|&k| dot(&moves[k], &moves[k + 1]) < 0.0)
        .map(|k| k + 1)
        .collect()
}

/// The turning points of the run's last [`SWING_WINDOW`] steps (indices into `trajectory`).
fn turning_points(trajectory: &[Vec<f64>]) -> Vec<usize> {
    let start = trajectory.len().saturating_sub(SWING_WINDOW + 1);
    let path: Vec<&Vec<f64>> = trajectory[start..].iter().collect();
    turns(&path).into_iter().map(|t| start + t).collect()
}

/// The two widths a swing's growth is judged from (and said with): with four or more widths the
/// widest of the earlier half and of the later half, with two or three the first and the last,
/// with fewer none.
pub fn judged_widths(widths: &[f64]) -> Option<(f64, f64)> {
    let widest = |ws: &[f64]| ws.iter().copied().fold(0.0, f64::max);
    match widths.len() {
        0 | 1 => None,
        2 | 3 => Some((widths[0], widths[widths.len() - 1])),
        n => Some((widest(&widths[..n / 2]), widest(&widths[n / 2..]))),
    }
}

/// The last steps in which a swing's turning points are looked for: long enough for slow
/// cycles (momentum's take tens of steps).
const SWING_WINDOW: usize = 400;

/// A swing's last two turning points (where the path reversed) and whether it grows, from the
/// widths between turning points only (never a move from rest, which is no swing), the last
/// sixteen of them: with four or more, the widest of the earlier half against the widest of the
/// later half (each half holding whole cycles, whatever their length); with two or three, the
/// last against the first; with fewer, undetermined.
fn swing(trajectory: &[Vec<f64>], ahead: &[Vec<f64>]) -> Option<Oscillation> {
    let n = trajectory.len();
    let start = n.saturating_sub(SWING_WINDOW + 1);
    let path: Vec<&Vec<f64>> = trajectory[start..].iter().chain(ahead).collect();
    let turns = turns(&path);
    // The run's own turning points end before its last point, whose move out is not the run's.
    let own = turns.iter().take_while(|&&t| t < n - 1 - start).count();
    let [.., b, c] = &turns[..own] else { return None };
    let between = [path[*b].clone(), path[*c].clone()];
    // A swing's width: from one turning point to the next.
    let width =
        |t: &[usize]| norm(&path[t[1]].iter().zip(path[t[0]]).map(|(x, y)| x - y).collect::<Vec<_>>());
    let all: Vec<f64> = turns.windows(2).map(width).collect();
    let (past, next) = all.split_at(own - 1);
    let widest = |ws: &[f64]| ws.iter().copied().fold(0.0, f64::max);
    // The last sixteen widths: the swing as it is now, not the transient it started with; each
    // half holds a whole cycle of up to eight turns, whose widest is the same in both.
    let widths = past[past.len().saturating_sub(16)..].to_vec();
    let mut amplitude = match judged_widths(&widths) {
        Some((early, late)) => amplitude(early, late),
        None => Amplitude::Undetermined,
    };
    // The trend must go on when the run does: the widest of its next four swings must pass (or,
    // shrinking, stay under) the widest of its last four. RMSprop's swing shrinks for twenty
    // swings, then widens again; at its peak a growing swing's next ones are already smaller.
    let next = next[..next.len().min(4)].to_vec();
    if !next.is_empty() {
        let (recent, coming) = (widest(&past[past.len().saturating_sub(4)..]), widest(&next));
        let goes_on = match amplitude {
            Amplitude::Growing => coming > recent,
            Amplitude::Shrinking => coming < recent,
            Amplitude::Steady => (coming / recent - 1.0).abs() <= SAME,
            Amplitude::Undetermined | Amplitude::Varying => true,
        };
        if !goes_on {
            amplitude = Amplitude::Varying;
        }
    }
    Some(Oscillation { between, amplitude, widths, next })
}

/// The first step (index into the trajectory) whose point lies outside `domain`.
pub fn left_domain_at(domain: &Domain, trajectory: &[Vec<f64>]) -> Option<usize> {
    trajectory.iter().position(|p| !domain.contains(p))
}

/// The nearest known minimum, where the point ended within 1 % of the domain's widest side of
/// it (and reached none).
pub fn near(point: &[f64], loss: f64, minima: &[Minimum], domain: &Domain) -> Option<Near> {
    let width = domain.0.iter().map(|[lo, hi]| hi - lo).fold(0.0, f64::max);
    minima
        .iter()
        .map(|m| (m, distance(point, &m.point)))
        .filter(|(_, d)| d.is_finite() && *d <= 0.01 * width)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, d)| Near { minimum: m.clone(), distance: d, above: loss - m.value })
}

/// How long a run swung before it came to rest: its first to its last turning point, where it
/// turned three times or more.
pub fn swung(trajectory: &[Vec<f64>]) -> Option<Swung> {
    let path: Vec<&Vec<f64>> = trajectory.iter().collect();
    // A turning point's index is the step it was reached at.
    match turns(&path).as_slice() {
        all @ [first, .., last] if all.len() >= 3 => {
            Some(Swung { from: *first, to: *last, turns: all.len() })
        }
        _ => None,
    }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    norm(&a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>())
}

/// The known minimum a run reached: the one whose basin it ended in, where it converged there,
/// ended within `tol` of it, or at its value (a flat minimum, as ⌊x²⌋'s on (−1, 1)). Never for
/// a run that diverged or stalled, nor outside the domain (no basin there).
pub fn reached(
    status: Status,
    point: &[f64],
    loss: f64,
    basin: Option<&Minimum>,
    tol: f64,
) -> Option<Minimum> {
    let m = basin?;
    if matches!(status, Status::Diverged | Status::Stalled) {
        return None;
    }
    (status == Status::Converged || distance(point, &m.point) <= tol || loss <= m.value).then(|| m.clone())
}

#[cfg(test)]
#[path = "motion_tests.rs"]
mod tests;

//! What a perceptron run did, said from its own numbers: why its loss rose before it fell (when
//! it did), and what its test loss says.
//!
//! The rise is diagnosed by experiment, not by guess. Each rising epoch is replayed from the
//! weights it started with, twice: once as it ran (the notebook's rule, blind to ReLU's
//! derivative), recording every sample that was updated while its prediction was 0; and once with
//! ReLU's derivative respected (no update where x·w + b ≤ 0). When the second replay would not
//! have raised the loss, the updates made at ŷ = 0 caused that epoch's rise. The tensor work
//! lives in [`crate::perceptron`]; here is the logic that reads the replays, tested directly.

use serde::Serialize;

/// A stretch must raise the loss by more than this fraction of where it started to be called a
/// rise: float noise and a wobble of a few parts in a thousand are not worth a paragraph.
const NOTABLE_RISE: f64 = 0.01;

/// One sample updated while its prediction was 0 (x·w + b ≤ 0 at its turn) and its target was
/// not: the rule still moved w by lr·y·x.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Kick {
    /// Row of the training set, from 0.
    pub sample: usize,
    pub target: f64,
}

/// One epoch of the rising stretch, replayed from the weights it started with.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReplay {
    /// The epoch replayed.
    pub epoch: usize,
    /// The loss before this epoch's pass.
    pub loss_before: f64,
    /// The samples updated at ŷ = 0 during the pass as it ran, in order.
    pub kicks: Vec<Kick>,
    /// The loss after the same pass with ReLU's derivative respected (no update where ŷ = 0).
    pub loss_with_derivative: f64,
    /// The loss after the same pass with the largest step gain scaled down to [`CAPPED_GAIN`]
    /// where its sample is active,
    /// when some sample's gain is above 2.
    pub loss_with_cap: Option<f64>,
}

/// The step gain a capped replay gives the sample whose gain is above 2: under 2, a step on it
/// alone no longer overshoots its target.
pub const CAPPED_GAIN: f64 = 1.9;

/// A cause of the rise that a replay confirmed: without it, `explained` of the `rising`
/// epochs replayed would not have raised the loss (at least half of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RiseCause {
    /// Updates made at ŷ = 0. `sample` is the one whose kicks pushed hardest: each moved its
    /// own pre-activation by `push` = lr·y·(|x|² + 1) (w and b both move), and raised the
    /// pre-activations of `raised` of the `samples` training samples with it.
    InactiveUpdates {
        sample: usize,
        target: f64,
        push: f64,
        raised: usize,
        samples: usize,
        kicked_epochs: usize,
        explained: usize,
        rising: usize,
    },
    /// A step gain lr·(|x|² + 1) above 2: one step on `sample` alone turns its error e into
    /// e·(1 − gain), larger than e and of the other sign.
    Overshoot { sample: usize, step_gain: f64, explained: usize, rising: usize },
}

/// A stretch of epochs over which the training loss kept rising.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossRise {
    /// The first epoch whose loss was above the one before (0 is the initial loss).
    pub from_epoch: usize,
    /// The last one: the peak.
    pub to_epoch: usize,
    pub start_loss: f64,
    pub peak_loss: f64,
    pub final_loss: f64,
    /// The peak is the last epoch: the loss was still rising when the run ended.
    pub still_rising: bool,
    /// What the replays confirmed; empty when neither did.
    pub causes: Vec<RiseCause>,
    /// Each replayed epoch's loss after its pass replayed from the real weights: with ReLU's
    /// derivative respected, and with the largest step capped (where some gain is above 2) —
    /// what `--plot` draws beside the real curve.
    pub replayed: Vec<Replayed>,
    /// The largest step gain lr·(|x|² + 1) among the training samples, and its sample.
    pub largest_step_gain: (usize, f64),
}

/// One replayed epoch's losses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replayed {
    pub epoch: usize,
    pub with_derivative: f64,
    pub with_cap: Option<f64>,
}

/// The test loss beside the training loss on the samples with the same targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestComparison {
    /// Over the test samples whose targets the training set also has.
    pub test_loss: f64,
    /// Over the training samples with those targets; `None` when the sets share none.
    pub train_loss_same_targets: Option<f64>,
    pub shared_targets: usize,
}

/// The rising stretch worth explaining in `losses` (index 0: before training, i: after epoch
/// i): the one that gained most, as (first epoch, peak epoch), if it gained more than 1 %.
///
/// Not [`super::unit::rises`], which lists every rise a learner should hear of, from a low to
/// its peak across dips: the replay compares each replayed epoch's loss with the one before,
/// so the stretch it explains must rise at every epoch.
pub fn rising_stretch(losses: &[f64]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, f64)> = None;
    let mut i = 1;
    while i < losses.len() {
        if losses[i] > losses[i - 1] {
            let start = i;
            while i + 1 < losses.len() && losses[i + 1] > losses[i] {
                i += 1;
            }
            let gain = losses[i] - losses[start - 1];
            if gain > NOTABLE_RISE * losses[start - 1].abs() && best.is_none_or(|(_, _, g)| gain > g) {
                best = Some((start, i, gain));
            }
        }
        i += 1;
    }
    best.map(|(a, b, _)| (a, b))
}

/// The sample with the largest step gain, and that gain.
pub fn largest_gain(step_gains: &[f64]) -> (usize, f64) {
    step_gains.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0))
}

/// Reads the replays of a rising stretch. `step_gains[i]` is lr·(|xᵢ|² + 1); `column(j)[i]` is
/// xᵢ·xⱼ + 1, how much an update on sample j moves sample i's pre-activation per unit.
pub fn diagnose(
    replays: &[EpochReplay],
    step_gains: &[f64],
    column: &dyn Fn(usize) -> Vec<f64>,
) -> Vec<RiseCause> {
    let rising = replays.len();
    let confirmed = |explained: usize| rising > 0 && 2 * explained >= rising;
    let mut causes = Vec::new();
    let explained =
        replays.iter().filter(|r| !r.kicks.is_empty() && r.loss_with_derivative <= r.loss_before).count();
    if confirmed(explained) {
        // Name the sample whose kicks pushed hardest: a kick moves that sample's own
        // pre-activation by lr·y·(|x|² + 1), so a large target on a long row dominates.
        let mut pushes: Vec<(Kick, usize, f64)> = Vec::new();
        for kick in replays.iter().flat_map(|r| r.kicks.iter()) {
            let push = kick.target.abs() * step_gains.get(kick.sample).copied().unwrap_or(0.0);
            match pushes.iter_mut().find(|(k, _, _)| k.sample == kick.sample) {
                Some((_, n, total)) => {
                    *n += 1;
                    *total += push;
                }
                None => pushes.push((*kick, 1, push)),
            }
        }
        pushes.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.sample.cmp(&b.0.sample)));
        if let Some(&(kick, kicked_epochs, _)) = pushes.first() {
            let moves = column(kick.sample);
            let raised = moves.iter().filter(|&&m| kick.target * m > 0.0).count();
            causes.push(RiseCause::InactiveUpdates {
                sample: kick.sample,
                target: kick.target,
                push: kick.target * step_gains.get(kick.sample).copied().unwrap_or(0.0),
                raised,
                samples: moves.len(),
                kicked_epochs,
                explained,
                rising,
            });
        }
    }
    let (sample, step_gain) = largest_gain(step_gains);
    let explained = replays.iter().filter(|r| r.loss_with_cap.is_some_and(|l| l <= r.loss_before)).count();
    if step_gain > 2.0 && confirmed(explained) {
        causes.push(RiseCause::Overshoot { sample, step_gain, explained, rising });
    }
    causes
}

/// The rise in words, as `#` comment lines of the transcript.
pub fn describe_rise(rise: &LossRise, lr: f64) -> Vec<String> {
    let epochs = if rise.from_epoch == rise.to_epoch {
        format!("in epoch {}", rise.to_epoch)
    } else {
        format!("over epochs {}–{}", rise.from_epoch, rise.to_epoch)
    };
    let ending = if rise.still_rising {
        ", and was still rising when the run ended".to_string()
    } else {
        format!(" and ended at {:.6}", rise.final_loss)
    };
    let mut lines = vec![format!(
        "# the loss rose {epochs} ({:.6} → {:.6}){ending}. Why:",
        rise.start_loss, rise.peak_loss
    )];
    let (widest, gain) = rise.largest_step_gain;
    for cause in &rise.causes {
        match cause {
            RiseCause::InactiveUpdates { sample, target, push, raised, samples, kicked_epochs, explained, rising } => {
                lines.push(format!(
                    "#   in {kicked_epochs} of those passes sample {sample} (y = {target}) reached its turn with x·w + b ≤ 0, \
                     so ŷ = 0, and the rule, blind to ReLU's derivative, still moved w and b by lr·({target} − 0)·(x, 1): \
                     that raised its own x·w + b by lr·y·(|x|² + 1) = {push:.2}, and the pre-activations of {raised} of \
                     the {samples} samples (itself included) with it."
                ));
                let verdict = if explained == rising { ": those updates made the rise" } else { "" };
                lines.push(format!(
                    "#   replayed from the same weights without the updates made at ŷ = 0 (ReLU's derivative respected), \
                     {explained} of the {rising} rising epochs replayed would not have raised the loss{verdict}"
                ));
            }
            RiseCause::Overshoot { sample, step_gain, explained, rising } => lines.push(format!(
                "#   sample {sample} has step gain lr·(|x|² + 1) = {step_gain:.2} > 2: one step on it alone turns its \
                 error e into e·(1 − {step_gain:.2}), larger and of the other sign. Replayed with its active steps scaled \
                 to a gain of {CAPPED_GAIN}, {explained} of the {rising} rising epochs replayed would not have raised \
                 the loss; --lr below {} keeps its gain under 2",
                significant_below(2.0 * lr / step_gain)
            )),
        }
    }
    if rise.causes.is_empty() {
        let capped = if gain > 2.0 {
            format!(
                ", nor with sample {widest}'s step gain lr·(|x|² + 1) = {gain:.2} scaled to {CAPPED_GAIN}"
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "#   replayed without the updates made at ŷ = 0{capped}, the rise does not go away in most epochs: \
             nnopt names no cause"
        ));
    }
    lines
}

/// `v` to two significant digits, rounded down, as a learner would type a bound it must stay
/// below (0.000812… → 0.00081; 0.0500 → 0.05).
fn significant_below(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let decimals = (1 - v.log10().floor() as i32).max(0);
    let scale = 10f64.powi(decimals);
    let text = format!("{:.*}", decimals as usize, (v * scale).floor() / scale);
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// The test loss against the training loss, both over the samples whose targets the two sets
/// share (the training set may not cover all of the test set's targets).
pub fn compare_test(train: (&[f64], &[f64]), test: (&[f64], &[f64])) -> TestComparison {
    let half_squared = |pairs: &[(f64, f64)]| {
        pairs.iter().map(|(y, p)| (y - p).powi(2) / 2.0).sum::<f64>() / pairs.len() as f64
    };
    let pairs =
        |(y, p): (&[f64], &[f64])| -> Vec<(f64, f64)> { y.iter().copied().zip(p.iter().copied()).collect() };
    let (train, test) = (pairs(train), pairs(test));
    let shared_train: Vec<(f64, f64)> =
        train.iter().copied().filter(|(y, _)| test.iter().any(|t| t.0 == *y)).collect();
    let shared_test: Vec<(f64, f64)> =
        test.iter().copied().filter(|(y, _)| train.iter().any(|t| t.0 == *y)).collect();
    TestComparison {
        test_loss: if shared_test.is_empty() { half_squared(&test) } else { half_squared(&shared_test) },
        train_loss_same_targets: (!shared_train.is_empty()).then(|| half_squared(&shared_train)),
        shared_targets: shared_train.len(),
    }
}

/// A test loss this many times the training loss (or less than its inverse) is a difference;
/// between the two, five samples cannot tell one apart from noise.
const CLEAR_RATIO: f64 = 1.5;

/// The comparison in words; `dead` when the run ended with every prediction 0.
pub fn describe_test(c: &TestComparison, dead: bool) -> String {
    match (c.train_loss_same_targets, dead) {
        (_, true) => format!(
            "# test loss {:.4}: the unit ended dead (every training prediction 0), so this says nothing about what it learned",
            c.test_loss
        ),
        (None, _) => format!(
            "# the test loss {:.4} cannot be set beside the training loss: the two sets share no target",
            c.test_loss
        ),
        (Some(train), _) => {
            let verdict = if c.test_loss > CLEAR_RATIO * train {
                "new samples are predicted clearly worse than the training samples with the same targets: the \
                 fit does not carry over in full to data it never saw"
            } else if c.test_loss * CLEAR_RATIO < train {
                "new samples are predicted clearly better than the training samples with the same targets (a \
                 small test set can be lucky)"
            } else {
                "about the same as the training samples with the same targets"
            };
            let owner = if c.shared_targets == 1 { "training sample's" } else { "training samples'" };
            format!(
                "# on the {n} target(s) both sets have, the test samples' loss is {:.4} and the {owner} \
                 {train:.4}: {verdict}",
                c.test_loss,
                n = c.shared_targets
            )
        }
    }
}

#[cfg(test)]
#[path = "rise_tests.rs"]
mod tests;

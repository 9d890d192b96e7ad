//! What a perceptron run did, said from its own numbers: why its loss rose before it fell (when
//! it did), and what its test loss says.
//!
//! The rise is diagnosed by experiment, not by guess. Each rising epoch is replayed from the
//! weights it started with, twice: once as it ran (the notebook's rule, blind to ReLU's
//! derivative), recording every sample that was updated while its prediction was 0; and once with
//! ReLU's derivative respected (no update where x·w + b ≤ 0). When the second replay would not
//! have raised the loss, the updates made at ŷ = 0 caused that epoch's rise. The tensor work
//! lives in the parent module; here is the logic that reads the replays, tested directly.

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

/// One epoch of the rising stretch, replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReplay {
    pub epoch: usize,
    /// The loss before this epoch's pass, and after it.
    pub loss_before: f64,
    pub loss_after: f64,
    /// The samples updated at ŷ = 0 during the pass, in order.
    pub kicks: Vec<Kick>,
    /// The loss after the same pass from the same weights with ReLU's derivative respected.
    pub loss_with_derivative: f64,
}

/// Why the loss rose, as far as the replays can tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RiseCause {
    /// Updates made at ŷ = 0: without them (ReLU's derivative respected) the loss would not
    /// have risen in `explained` of the `rising` epochs replayed. `sample` is the one whose
    /// kicks pushed hardest; each moved its own pre-activation by `push` = lr·y·|x|².
    InactiveUpdates {
        sample: usize,
        target: f64,
        push: f64,
        kicked_epochs: usize,
        explained: usize,
        rising: usize,
    },
    /// No kicks to blame, but one sample's step gain lr·|x|² is above 2: a step on that sample
    /// alone turns its error e into e·(1 − lr·|x|²), larger than e and of the other sign.
    Overshoot { sample: usize, step_gain: f64 },
    /// Neither test explains it.
    Unexplained,
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
    pub cause: RiseCause,
}

/// The test loss beside the training loss on the samples with the same targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestComparison {
    pub test_loss: f64,
    /// The training loss over the samples whose targets the test set also has; `None` when
    /// they share none.
    pub train_loss_same_targets: Option<f64>,
    pub shared_targets: usize,
}

/// The rising stretch worth explaining in `losses` (index 0: before training, i: after epoch
/// i): the one that gained most, as (first epoch, peak epoch), if it gained more than 1 %.
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

/// Reads the replays of a rising stretch; `step_gains[i]` is lr·|xᵢ|² for training sample i.
pub fn diagnose(replays: &[EpochReplay], step_gains: &[f64]) -> RiseCause {
    let rising = replays.len();
    let explained =
        replays.iter().filter(|r| !r.kicks.is_empty() && r.loss_with_derivative <= r.loss_before).count();
    if rising > 0 && 2 * explained >= rising {
        // Name the sample whose kicks pushed hardest: a kick moves that sample's own
        // pre-activation by lr·y·|x|², so a large target on a long row dominates.
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
            let push = kick.target * step_gains.get(kick.sample).copied().unwrap_or(0.0);
            return RiseCause::InactiveUpdates {
                sample: kick.sample,
                target: kick.target,
                push,
                kicked_epochs,
                explained,
                rising,
            };
        }
    }
    let widest = step_gains.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
    match widest {
        Some((sample, &step_gain)) if step_gain > 2.0 => RiseCause::Overshoot { sample, step_gain },
        _ => RiseCause::Unexplained,
    }
}

/// The rise in words, as `#` comment lines of the transcript.
pub fn describe_rise(rise: &LossRise, lr: f64) -> Vec<String> {
    let epochs = if rise.from_epoch == rise.to_epoch {
        format!("in epoch {}", rise.to_epoch)
    } else {
        format!("over epochs {}–{}", rise.from_epoch, rise.to_epoch)
    };
    let mut lines = vec![format!(
        "# the loss rose {epochs} ({:.6} → {:.6}) and ended at {:.6}. Why:",
        rise.start_loss, rise.peak_loss, rise.final_loss
    )];
    match &rise.cause {
        RiseCause::InactiveUpdates { sample, target, push, kicked_epochs, explained, rising } => {
            lines.push(format!(
                "#   in {kicked_epochs} of those passes sample {sample} (y = {target}) reached its turn with x·w + b ≤ 0, so \
                 ŷ = 0, and the rule, blind to ReLU's derivative, still moved w by lr·({target} − 0)·x, raising its own \
                 x·w + b by lr·y·|x|² = {push:.2}. That push raises every prediction (the rows of X point nearly the \
                 same way), so the samples already above their targets overshoot further."
            ));
            lines.push(format!(
                "#   replayed from the same weights with ReLU's derivative (no update where ŷ = 0), {explained} of the \
                 {rising} rising epochs replayed would not have raised the loss: those updates made the rise."
            ));
            lines.push(format!(
                "#   the push is proportional to lr: try --lr {} to see a smaller one",
                significant(lr / 2.0)
            ));
        }
        RiseCause::Overshoot { sample, step_gain } => {
            lines.push(format!(
                "#   no update at ŷ = 0 explains it. Sample {sample} has lr·|x|² = {step_gain:.2} > 2: one step on it \
                 alone turns its error e into e·(1 − {step_gain:.2}), larger and of the other sign, so a \
                 pass can leave it further from its target than it found it; --lr below {} keeps that step gain under 2",
                significant(2.0 * lr / step_gain)
            ));
        }
        RiseCause::Unexplained => lines.push(
            "#   neither updates at ŷ = 0 nor a step gain lr·|x|² above 2 explains it: the samples' updates pull \
             against each other within a pass"
                .to_string(),
        ),
    }
    lines
}

/// `v` to two significant digits, as a learner would type it (0.000812… → 0.00081, 0.0500 → 0.05).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let decimals = (1 - v.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// The test loss against the training loss on samples with the same targets.
pub fn compare_test(train: (&[f64], &[f64]), test: (&[f64], &[f64])) -> TestComparison {
    let half_squared = |pairs: &[(f64, f64)]| {
        pairs.iter().map(|(y, p)| (y - p).powi(2) / 2.0).sum::<f64>() / pairs.len() as f64
    };
    let test_pairs: Vec<(f64, f64)> = test.0.iter().copied().zip(test.1.iter().copied()).collect();
    let shared: Vec<(f64, f64)> =
        train.0.iter().copied().zip(train.1.iter().copied()).filter(|(y, _)| test.0.contains(y)).collect();
    TestComparison {
        test_loss: half_squared(&test_pairs),
        train_loss_same_targets: (!shared.is_empty()).then(|| half_squared(&shared)),
        shared_targets: shared.len(),
    }
}

/// The comparison in words.
pub fn describe_test(c: &TestComparison) -> String {
    match c.train_loss_same_targets {
        None => format!(
            "# the test loss {:.4} cannot be set beside the training loss: the two sets share no target",
            c.test_loss
        ),
        Some(train) => {
            let verdict = if c.test_loss > train {
                "new samples are predicted worse than the training samples with the same targets: \
                 the fit does not carry over in full to data it never saw"
            } else {
                "new samples are predicted no worse than the training samples with the same targets"
            };
            format!(
                "# test loss {:.4}; on the {} training samples with the same targets the loss is {train:.4}: {verdict}",
                c.test_loss, c.shared_targets
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(
        epoch: usize,
        before: f64,
        after: f64,
        kicks: &[(usize, f64)],
        with_derivative: f64,
    ) -> EpochReplay {
        EpochReplay {
            epoch,
            loss_before: before,
            loss_after: after,
            kicks: kicks.iter().map(|&(sample, target)| Kick { sample, target }).collect(),
            loss_with_derivative: with_derivative,
        }
    }

    #[test]
    fn the_largest_rise_is_the_one_explained() {
        // Two rises: 1 → 1.5 (epochs 1–2) and 0.5 → 3 (epochs 5–6).
        assert_eq!(rising_stretch(&[1.0, 1.2, 1.5, 1.0, 0.5, 2.0, 3.0, 2.0]), Some((5, 6)));
        // A rise from the initial loss starts at epoch 1.
        assert_eq!(rising_stretch(&[14.25, 15.08, 14.47, 14.85, 15.5, 3.0]), Some((3, 4)));
        assert_eq!(rising_stretch(&[14.25, 15.08, 14.0]), Some((1, 1)));
    }

    #[test]
    fn a_falling_loss_or_a_tiny_wobble_has_no_rise() {
        assert_eq!(rising_stretch(&[3.0, 2.0, 1.0]), None);
        assert_eq!(rising_stretch(&[3.0, 2.0, 2.001, 1.0]), None);
        assert_eq!(rising_stretch(&[]), None);
        assert_eq!(rising_stretch(&[1.0]), None);
    }

    #[test]
    fn kicks_that_the_derivative_would_have_skipped_are_the_cause() {
        let replays = [
            replay(2, 14.0, 14.8, &[(0, 0.0), (9, 9.0)], 13.0),
            replay(3, 14.8, 15.2, &[(9, 9.0)], 14.0),
            replay(4, 15.2, 15.6, &[(1, 1.0), (9, 9.0)], 16.0),
        ];
        assert_eq!(
            diagnose(&replays, &[0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.3]),
            RiseCause::InactiveUpdates {
                sample: 9,
                target: 9.0,
                push: 9.0 * 2.3,
                kicked_epochs: 3,
                explained: 2,
                rising: 3
            }
        );
        // A sample kicked less often but harder is the one named.
        let replays =
            [replay(2, 14.0, 14.8, &[(1, 1.0), (9, 9.0)], 13.0), replay(3, 14.8, 15.2, &[(1, 1.0)], 14.0)];
        let named = diagnose(&replays, &[0.0, 0.06, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.26]);
        assert!(matches!(named, RiseCause::InactiveUpdates { sample: 9, kicked_epochs: 1, .. }), "{named:?}");
    }

    #[test]
    fn without_effective_kicks_a_step_gain_above_two_is_named() {
        // Kicks happened, but the derivative-respecting replay rose as well: they are not the cause.
        let replays = [replay(2, 0.4, 0.45, &[(3, 3.0)], 0.46), replay(3, 0.45, 0.5, &[], 0.5)];
        assert_eq!(
            diagnose(&replays, &[0.5, 2.46, 1.9]),
            RiseCause::Overshoot { sample: 1, step_gain: 2.46 }
        );
        assert_eq!(diagnose(&replays, &[0.5, 1.9]), RiseCause::Unexplained);
    }

    #[test]
    fn the_words_name_the_sample_the_share_and_a_lower_rate() {
        let rise = LossRise {
            from_epoch: 1,
            to_epoch: 35,
            start_loss: 14.25,
            peak_loss: 28.32,
            final_loss: 5.28,
            cause: RiseCause::InactiveUpdates {
                sample: 9,
                target: 9.0,
                push: 20.3,
                kicked_epochs: 30,
                explained: 33,
                rising: 35,
            },
        };
        let text = describe_rise(&rise, 0.001).join("\n");
        assert!(text.contains("over epochs 1–35 (14.250000 → 28.320000)"), "{text}");
        assert!(text.contains("sample 9 (y = 9)"), "{text}");
        assert!(text.contains("33 of the 35 rising epochs replayed"), "{text}");
        assert!(text.contains("lr·y·|x|² = 20.30"), "{text}");
        assert!(text.contains("--lr 0.0005 "), "{text}");
        let overshoot = LossRise { cause: RiseCause::Overshoot { sample: 9, step_gain: 2.5 }, ..rise };
        assert!(describe_rise(&overshoot, 0.001).join("\n").contains("--lr below 0.0008 "));
        assert_eq!(significant(0.0008121856399392289), "0.00081");
        assert_eq!(significant(2.5), "2.5");
        assert_eq!(significant(0.05), "0.05");
        assert_eq!(significant(150.0), "150");
    }

    #[test]
    fn the_test_loss_is_set_beside_training_samples_with_its_targets() {
        let c = compare_test((&[0.0, 1.0, 2.0, 9.0], &[0.0, 1.0, 2.0, 19.0]), (&[1.0, 2.0], &[2.0, 2.0]));
        assert_eq!(c.shared_targets, 2);
        assert_eq!(c.train_loss_same_targets, Some(0.0));
        assert_eq!(c.test_loss, 0.25);
        assert!(describe_test(&c).contains("predicted worse"));
        let none = compare_test((&[5.0], &[5.0]), (&[1.0], &[1.0]));
        assert_eq!(none.train_loss_same_targets, None);
        assert!(describe_test(&none).contains("share no target"));
    }
}

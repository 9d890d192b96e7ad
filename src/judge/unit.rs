//! The perceptron's one ReLU unit over a run: alive or dead at each epoch (dead: X·w + b ≤ 0 for
//! every training sample, so every training prediction is 0), told from the start — never
//! alive, died at epoch k, revived, with the epochs counted — and every rise of its loss worth
//! a sentence, including one still going when the run ends.

use serde::Serialize;

/// The unit's life, from its state at the initial weights and after each epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "life", rename_all = "kebab-case")]
pub enum Life {
    /// Some training prediction was positive at the start and after every epoch.
    AlwaysAlive,
    /// Dead at the initial weights and after every epoch.
    NeverAlive,
    /// Dead from `epoch` to the end; `spells` are the earlier dead stretches it came back from.
    Died { epoch: usize, spells: Vec<[usize; 2]> },
    /// Alive at the end after dead stretches (first and last epoch of each; 0 is the start).
    Revived { spells: Vec<[usize; 2]> },
}

/// Judges the unit's life: `at_start` and `alive[e − 1]` after epoch e.
pub fn life(at_start: bool, alive: &[bool]) -> Life {
    let states: Vec<bool> = std::iter::once(at_start).chain(alive.iter().copied()).collect();
    if states.iter().all(|&a| a) {
        return Life::AlwaysAlive;
    }
    if states.iter().all(|&a| !a) {
        return Life::NeverAlive;
    }
    let mut spells = Vec::new();
    let mut k = 0;
    while k < states.len() {
        if states[k] {
            k += 1;
            continue;
        }
        let from = k;
        while k < states.len() && !states[k] {
            k += 1;
        }
        spells.push([from, k - 1]);
    }
    let last = states.len() - 1;
    match spells.last() {
        Some(&[from, to]) if to == last => {
            spells.pop();
            Life::Died { epoch: from, spells }
        }
        _ => Life::Revived { spells },
    }
}

/// "epochs 1–3 and 50", "the start".
fn spells_text(spells: &[[usize; 2]]) -> String {
    let one = |&[a, b]: &[usize; 2]| match (a, b) {
        (0, 0) => "the initial weights".to_string(),
        (0, b) => format!("the initial weights to epoch {b}"),
        (a, b) if a == b => format!("epoch {a}"),
        (a, b) => format!("epochs {a}–{b}"),
    };
    let mut parts: Vec<String> = spells.iter().map(one).collect();
    // Seventeen stretches are a wall: the first three and the last two say the pattern.
    if parts.len() > 6 {
        let hidden = parts.len() - 5;
        parts.splice(3..parts.len() - 2, [format!("{hidden} more")]);
    }
    // Index 0 is the start, not an epoch.
    let dead_epochs: usize = spells.iter().map(|[a, b]| b - a + 1 - usize::from(*a == 0)).sum();
    match dead_epochs {
        0 => parts.join(", "),
        n => format!("{} ({n} epoch(s) in all)", parts.join(", ")),
    }
}

impl Life {
    /// A revived unit's story, for the transcript: it ended alive, so no warning.
    pub fn note(&self) -> Option<String> {
        match self {
            Life::Revived { spells } => Some(format!(
                "# the unit was dead (every training prediction 0) at {} and came back: the notebook's rule, blind \
                 to relu's derivative, still moves w at ŷ = 0",
                spells_text(spells)
            )),
            _ => None,
        }
    }

    /// The warning a unit dead at the end gets; `loss` is the final loss, `rises` the run's.
    /// "Lower --lr" needs evidence that the steps were too large: a rise that peaked in the
    /// three epochs before the one it died at (dying itself lifts the loss to its dead value, so
    /// the death epoch's own rise is no evidence).
    pub fn warning(&self, loss: f64, lr: &str, rises: &[Rise]) -> Option<String> {
        let rose = match self {
            Life::Died { epoch, .. } => {
                rises.iter().any(|r| r.peak_epoch < *epoch && r.peak_epoch + 3 >= *epoch)
            }
            _ => false,
        };
        let dead = "X·w + b ≤ 0 for every training sample, so every training prediction is 0";
        match self {
            Life::AlwaysAlive | Life::Revived { .. } => None,
            Life::NeverAlive => Some(format!(
                "the ReLU was never alive: {dead} at the initial weights and after every epoch, and the loss stayed \
                 {loss}; the rate did not cause this (another --seed starts from other weights)"
            )),
            Life::Died { epoch, spells } => {
                let before = match spells.is_empty() {
                    true => String::new(),
                    false => format!(" (it had been dead before, at {}, and came back)", spells_text(spells)),
                };
                let advice = match rose {
                    true => format!("; its loss rose before it died: the step was too large — lower --lr (it was {lr})"),
                    false => String::new(),
                };
                Some(format!(
                    "the ReLU died at epoch {epoch}{before} and was still dead when the run ended: {dead}, and the loss \
                     is {loss}{advice}"
                ))
            }
        }
    }
}

/// A run whose loss became infinite or NaN: the steps grew without bound, the one case where
/// "lower --lr" needs no further evidence.
pub fn diverged(loss: f64, epoch: usize, lr: &str) -> String {
    format!("the loss became {loss} at epoch {epoch} (--lr {lr} is too large for this data); lower --lr")
}

/// One rise of the loss: from a low to the highest point before the loss fell back below that
/// low (epoch 0: before training).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rise {
    pub from_epoch: usize,
    pub peak_epoch: usize,
    pub from_loss: f64,
    pub peak_loss: f64,
    /// The peak is the last epoch.
    pub still_rising: bool,
}

/// Every rise worth a sentence in `losses` (index 0: before training): at least 10 % above its
/// low, or over at least 3 epochs and 1 %.
pub fn rises(losses: &[f64]) -> Vec<Rise> {
    let n = losses.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < n {
        if losses[i + 1] <= losses[i] || losses[i + 1].is_nan() {
            i += 1;
            continue;
        }
        // The rise from the low at i lasts until the loss falls back to it (a dead unit's loss
        // returns to exactly its plateau).
        let end = (i + 1..n).find(|&k| losses[k] <= losses[i]).unwrap_or(n);
        let peak =
            (i + 1..end).max_by(|&a, &b| losses[a].total_cmp(&losses[b]).then(b.cmp(&a))).unwrap_or(i + 1);
        let gain = (losses[peak] - losses[i]) / losses[i].abs().max(f64::MIN_POSITIVE);
        if gain >= 0.1 || (peak - i >= 3 && gain >= 0.01) {
            out.push(Rise {
                from_epoch: i,
                peak_epoch: peak,
                from_loss: losses[i],
                peak_loss: losses[peak],
                still_rising: peak == n - 1,
            });
        }
        i = peak;
    }
    out
}

/// The rises in one line.
pub fn describe_rises(rises: &[Rise]) -> Option<String> {
    if rises.is_empty() {
        return None;
    }
    let parts: Vec<String> = rises
        .iter()
        .map(|r| {
            let still = if r.still_rising { ", still rising at the end" } else { "" };
            let epochs = match r.from_epoch + 1 == r.peak_epoch {
                true => format!("epoch {}", r.peak_epoch),
                false => format!("epochs {}–{}", r.from_epoch + 1, r.peak_epoch),
            };
            format!(
                "{epochs} ({:.6} → {:.6}, {:+.0} %{still})",
                r.from_loss,
                r.peak_loss,
                100.0 * (r.peak_loss / r.from_loss - 1.0)
            )
        })
        .collect();
    Some(format!("# the loss rose {} time(s): {}", rises.len(), parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_from_the_start_died_and_revived_are_told_apart() {
        assert_eq!(life(true, &[true, true]), Life::AlwaysAlive);
        assert_eq!(life(false, &[false, false]), Life::NeverAlive);
        // --lr 0.01's shape: dead at epoch 1, revived, dead at 50, revived, dead from 100.
        let mut alive = vec![true; 101];
        alive[0] = false;
        alive[49] = false;
        alive[99] = false;
        alive[100] = false;
        assert_eq!(life(true, &alive), Life::Died { epoch: 100, spells: vec![[1, 1], [50, 50]] });
        assert_eq!(life(false, &[true]), Life::Revived { spells: vec![[0, 0]] });
        let said = life(true, &alive).warning(14.25, "0.01", &[]).unwrap();
        assert!(
            said.contains("died at epoch 100") && said.contains("epoch 1, epoch 50 (2 epoch(s) in all)"),
            "{said}"
        );
        let note = life(false, &[true]).note().unwrap();
        assert!(note.contains("at the initial weights and came back"), "{note}");
        assert!(!said.contains("lower --lr"), "no evidence, no advice: {said}");
        let never = life(false, &[false]).warning(14.25, "1e-30", &[]).unwrap();
        // A rise that peaked two epochs before the death is evidence; the death epoch's own is not.
        let rise = |peak_epoch| Rise {
            from_epoch: 90,
            peak_epoch,
            from_loss: 1.0,
            peak_loss: 9.0,
            still_rising: false,
        };
        let died = life(true, &alive);
        assert!(died.warning(14.25, "0.01", &[rise(98)]).unwrap().contains("lower --lr"));
        assert!(!died.warning(14.25, "0.01", &[rise(100)]).unwrap().contains("lower --lr"));
        assert!(never.contains("never alive") && !never.contains("lower --lr"), "{never}");
    }

    /// Each life has its own words and its own JSON.
    #[test]
    fn every_life_has_its_own_sentence_and_json() {
        let lives = [
            Life::AlwaysAlive,
            Life::NeverAlive,
            Life::Died { epoch: 7, spells: vec![] },
            Life::Died { epoch: 7, spells: vec![[0, 5]] },
            Life::Revived { spells: vec![[0, 0]] },
        ];
        let said: Vec<String> =
            lives.iter().map(|l| format!("{:?}{:?}", l.warning(14.25, "10", &[]), l.note())).collect();
        let json: Vec<String> = lives.iter().map(|l| serde_json::to_string(l).unwrap()).collect();
        for i in 0..lives.len() {
            for j in 0..i {
                assert_ne!(said[i], said[j]);
                assert_ne!(json[i], json[j]);
            }
        }
        assert!(Life::AlwaysAlive.warning(1.0, "1", &[]).is_none() && Life::AlwaysAlive.note().is_none());
    }

    #[test]
    fn every_rise_is_found_including_one_still_going() {
        // Seed 12's shape: an early rise, a fall, then a slow climb with wobbles to the end.
        let mut losses = vec![5.0, 6.0, 1.0, 0.5, 0.2, 0.1367];
        losses.extend(
            (1..=50).map(|k| 0.1367 * (1.0 + 1.41 * k as f64 / 50.0) - if k % 7 == 0 { 0.005 } else { 0.0 }),
        );
        let r = rises(&losses);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].from_epoch, r[0].peak_epoch), (0, 1));
        assert!(r[1].still_rising && r[1].from_epoch == 5 && r[1].peak_loss > 2.3 * 0.1367, "{r:?}");
        // A wobble of 0.5 % in one epoch is no rise; three epochs of 2 % are.
        assert!(rises(&[1.0, 1.005, 0.9]).is_empty());
        assert_eq!(rises(&[1.0, 1.01, 1.015, 1.02, 0.5]).len(), 1);
        assert!(describe_rises(&r).unwrap().contains("still rising at the end"));
    }
}

//! Why a training run stopped ([`Stop`], in words), and a trained classifier's verdict on its
//! test images: better than chance or not (the one
//! [`ChanceBound`]), collapsed onto one class or not, and advice about `--lr` only where the
//! losses give evidence for it — a loss that rose says the step was too large, a loss that
//! barely moved from its untrained value says the training was too short or the step too small; a run with
//! neither gets no advice.

use serde::Serialize;

use super::chance::ChanceBound;

/// Why training ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "lowercase")]
pub enum Stop {
    /// All epochs ran.
    Finished,
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) asked to stop: the batch in progress finished, then
    /// the epoch was evaluated.
    Interrupted { epoch: usize, batch: i64 },
    /// The training loss became NaN or infinite; the weights from the start of the epoch were
    /// restored. The run fails (exit 1) after reporting.
    Diverged { epoch: usize, batch: i64, loss: f64 },
    /// The training loss has not moved since the first epoch: nothing is being learned.
    Stalled { epoch: usize },
    /// Every test image gets the same output: no hidden unit is active for any input (dead
    /// ReLUs), so the network can only predict one class and no gradient reaches fc1.
    Dead { epoch: usize },
}

/// What becomes of a weights file (`--save`, `--save-best`) after a run: the one rule for
/// every command that saves.
#[derive(Debug, Clone, PartialEq)]
pub enum Save {
    /// The run ended in a usable state (finished, or stopped by a signal at a batch boundary).
    Write,
    /// It diverged after `epochs` whole epochs, whose weights were restored; there was no file
    /// to replace, so these are written.
    WriteEarlier { epochs: usize },
    /// Nothing is written: why.
    Skip(String),
}

impl Save {
    /// For a run that stopped as `stop` with `whole` epochs finished, where a file does (`exists`)
    /// or does not exist yet. A failed run never replaces a file (a good model may be there),
    /// and weights that no finished epoch produced — the untrained start — are never written.
    pub fn after(stop: &Stop, whole: usize, exists: bool) -> Save {
        match *stop {
            Stop::Diverged { epoch, .. } if whole == 0 => Save::Skip(format!(
                "the run diverged in epoch {epoch}, before any epoch finished, so its weights are the untrained \
                 ones{}",
                if exists { "; the file there was left as it was" } else { "" }
            )),
            Stop::Diverged { .. } if exists => {
                Save::Skip("the run diverged; the file there was left as it was".to_string())
            }
            Stop::Diverged { .. } => Save::WriteEarlier { epochs: whole },
            _ => Save::Write,
        }
    }

    /// What to tell the user about `flag path`, beyond "saved".
    pub fn sentence(&self, flag: &str, path: &std::path::Path) -> Option<String> {
        let path = path.display();
        match self {
            Save::Write => None,
            Save::WriteEarlier { epochs } => Some(format!(
                "{flag} {path} holds the weights from the end of epoch {epochs}, the last before the divergence"
            )),
            Save::Skip(why) => Some(format!("{flag} {path} was not written: {why}")),
        }
    }

    pub fn writes(&self) -> bool {
        !matches!(self, Save::Skip(_))
    }
}

/// The pictures and tables a diverged run does not make (`outputs`: each flag and file), in a
/// sentence: no picture of a failure passed off as a result.
pub fn not_drawn(outputs: &[String]) -> String {
    format!("the run diverged, so nothing was written to {}", outputs.join(", "))
}

impl Stop {
    /// The sentence a person reads; `None` for a run that finished.
    pub fn describe(&self, lr: f64) -> Option<String> {
        match *self {
            Stop::Finished => None,
            Stop::Interrupted { epoch, batch } => {
                Some(format!("interrupted at epoch {epoch}, batch {batch}"))
            }
            Stop::Diverged { epoch, batch, loss } => Some(format!(
                "the training loss became {loss} at epoch {epoch}, batch {batch}; kept the weights from the \
                 start of epoch {epoch}; lower --lr (it was {lr})"
            )),
            Stop::Dead { epoch } => Some(format!(
                "the network died at epoch {epoch}: it gives every image the same output (its ReLUs are 0 \
                 for every input), so it predicts one class and can no longer learn; lower --lr (it was {lr})"
            )),
            Stop::Stalled { epoch } => Some(format!(
                "the training loss has not changed since epoch 1 (stopped after epoch {epoch}): the network \
                 learns nothing at --lr {lr}; raise --lr, or check the data"
            )),
        }
    }
}

/// A model that answers one class for at least half of a balanced test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collapse {
    pub class: usize,
    pub name: String,
    /// The share of test images given that answer.
    pub share: f64,
}

/// What the losses say about the learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "advice", rename_all = "kebab-case")]
pub enum RateAdvice {
    /// The training loss rose from `from` (its lowest, at epoch `at`) to `to`: steps too large.
    Lower { from: f64, at: usize, to: f64 },
    /// An epoch's mean training loss (`loss`, epoch `at`) was more than twice an untrained
    /// network's, ln(classes): the steps threw the weights far off before any learning.
    BlewUp { loss: f64, at: usize, untrained: f64 },
    /// The training loss never left ln(classes) by more than 10 % and ended within 3 % of it:
    /// too few epochs, or too small a step.
    RaiseOrLonger { last: f64, untrained: f64 },
}

/// The verdict on a finished run's test results.
#[derive(Debug, Clone, Serialize)]
pub struct TestVerdict {
    pub chance: ChanceBound,
    pub at_chance: bool,
    pub collapse: Option<Collapse>,
    pub advice: Option<RateAdvice>,
    /// The largest confusions, in words with [`super::confusions::describe`].
    pub confusions: Vec<super::confusions::Confusion>,
}

/// Judges a run from its per-epoch training losses, its final accuracy and confusion matrix
/// (rows: true classes; columns: answers).
pub fn judge(train_losses: &[f64], accuracy: f64, confusion: &[Vec<i64>], names: &[String]) -> TestVerdict {
    let chance = ChanceBound::of_confusion(confusion);
    let at_chance = chance.at_chance(accuracy);
    TestVerdict {
        chance,
        at_chance,
        collapse: collapse(confusion, names),
        // Advice belongs to a run that learned nothing; a healthy run's losses advise nothing.
        advice: advice(train_losses, confusion.len()).filter(|_| at_chance),
        confusions: super::confusions::largest(confusion),
    }
}

/// One answer for at least half the images of a set whose classes are balanced (the largest at
/// most twice the smallest), and for at least twice its fair share 1/classes (with two classes,
/// every image): on such a set that is not what learning looks like.
fn collapse(confusion: &[Vec<i64>], names: &[String]) -> Option<Collapse> {
    let sizes: Vec<i64> = confusion.iter().map(|r| r.iter().sum()).collect();
    let total: i64 = sizes.iter().sum();
    let (smallest, largest) = (sizes.iter().copied().min()?, sizes.iter().copied().max()?);
    if total == 0 || confusion.len() < 2 || largest > 2 * smallest {
        return None;
    }
    let answers: Vec<i64> = (0..confusion.len()).map(|c| confusion.iter().map(|r| r[c]).sum()).collect();
    let (class, &most) = answers.iter().enumerate().max_by_key(|(_, n)| **n)?;
    let share = most as f64 / total as f64;
    (share >= 0.5_f64.max(2.0 / confusion.len() as f64)).then(|| Collapse {
        class,
        name: names.get(class).cloned().unwrap_or_else(|| class.to_string()),
        share,
    })
}

/// Advice from the training losses, where they give evidence.
fn advice(losses: &[f64], classes: usize) -> Option<RateAdvice> {
    let last = *losses.last()?;
    let (at, lowest) = losses.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1))?;
    if !last.is_finite() || last > 1.1 * lowest {
        return Some(RateAdvice::Lower { from: lowest, at: at + 1, to: last });
    }
    let untrained = (classes.max(2) as f64).ln();
    let (worst_at, worst) = losses.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1))?;
    if worst > 2.0 * untrained {
        return Some(RateAdvice::BlewUp { loss: worst, at: worst_at + 1, untrained });
    }
    // Within 3 % of an untrained network's loss (its first batches score about ln(classes)):
    // too few steps or too small ones. A loss that ended further above it is no evidence that
    // a larger step would help.
    (worst <= 1.1 * untrained && (0.97 * untrained..=1.03 * untrained).contains(&last))
        .then_some(RateAdvice::RaiseOrLonger { last, untrained })
}

impl TestVerdict {
    /// The warnings a run with this verdict prints: at chance, a collapse, with their advice
    /// (`lr`, the rate it names, is read only where there is advice).
    pub fn warnings(&self, accuracy: f64, lr: f64) -> Vec<String> {
        let mut said = Vec::new();
        if self.at_chance {
            let advice = match self.advice {
                Some(RateAdvice::Lower { from, at, to }) => format!(
                    "; its training loss rose from {from:.4} (epoch {at}) to {to:.4}: lower --lr (it was {lr})"
                ),
                Some(RateAdvice::BlewUp { loss, at, untrained }) => format!(
                    "; its training loss reached {loss:.4} in epoch {at}, far above an untrained network's \
                     ln(classes) = {untrained:.4}: the steps threw the weights off — lower --lr (it was {lr})"
                ),
                Some(RateAdvice::RaiseOrLonger { last, untrained }) => format!(
                    "; its training loss {last:.4} barely moved from an untrained network's ln(classes) = {untrained:.4}: \
                     train more epochs, or raise --lr (it was {lr})"
                ),
                None => String::new(),
            };
            said.push(format!(
                "the final test accuracy {:.2}% is no better than chance: the network learned nothing measurable ({}){advice}",
                100.0 * accuracy,
                self.chance.describe()
            ));
        }
        if let Some(c) = &self.collapse {
            // Nine in ten answers one class: collapsed; half of them: leaning on it.
            let what =
                if c.share >= 0.9 { "it has collapsed onto one class" } else { "it leans on one class" };
            said.push(format!(
                "the network answers \"{}\" for {:.1}% of the test images, whose classes are balanced: {what}",
                c.name,
                100.0 * c.share
            ));
        }
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed run never replaces a file and never writes untrained weights; a usable one writes.
    #[test]
    fn what_a_run_may_save() {
        let diverged = |epoch| Stop::Diverged { epoch, batch: 3, loss: f64::NAN };
        assert_eq!(Save::after(&Stop::Finished, 5, true), Save::Write);
        assert_eq!(Save::after(&Stop::Interrupted { epoch: 1, batch: 2 }, 0, true), Save::Write);
        assert!(!Save::after(&diverged(1), 0, false).writes(), "untrained weights");
        assert!(!Save::after(&diverged(3), 2, true).writes(), "over an existing file");
        assert_eq!(Save::after(&diverged(3), 2, false), Save::WriteEarlier { epochs: 2 });
        let w = std::path::Path::new("w");
        let why = Save::after(&diverged(3), 2, true).sentence("--save", w).unwrap();
        assert!(why.contains("left as it was"), "{why}");
        assert!(Save::after(&Stop::Finished, 1, false).sentence("--save", w).is_none());
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn a_balanced_set_answered_with_one_class_is_a_collapse() {
        // 3 classes of 10; almost everything called class 1.
        let m = vec![vec![1, 9, 0], vec![0, 10, 0], vec![0, 8, 2]];
        let c = collapse(&m, &names(3)).unwrap();
        assert_eq!((c.class, c.name.as_str()), (1, "c1"));
        assert!((c.share - 27.0 / 30.0).abs() < 1e-12);
        // Spread answers: no collapse; an unbalanced set: not judged.
        assert_eq!(collapse(&[vec![8, 2], vec![3, 7]], &names(2)), None);
        assert!(
            collapse(&[vec![8, 0], vec![7, 0]], &names(2)).is_some(),
            "two classes: every image one answer"
        );
        assert_eq!(collapse(&[vec![30, 0], vec![10, 0]], &names(2)), None);
    }

    #[test]
    fn advice_needs_evidence() {
        assert!(matches!(advice(&[0.9, 0.5, 0.8], 10), Some(RateAdvice::Lower { at: 2, .. })));
        assert!(matches!(advice(&[0.9, f64::NAN], 10), Some(RateAdvice::Lower { .. })));
        assert!(matches!(advice(&[2.3030, 2.3020], 10), Some(RateAdvice::RaiseOrLonger { .. })));
        assert_eq!(advice(&[2.3883], 10), None, "3.7 % above ln 10: no evidence a larger step would help");
        assert_eq!(advice(&[1.2, 0.9, 0.7], 10), None, "a loss that fell is no evidence either way");
        // Adam at lr 1: 205.7 in epoch 1, falling to 2.857 — above ln 10, yet no call to raise.
        assert!(matches!(
            advice(&[205.7013, 6.6536, 4.3868, 2.8570], 10),
            Some(RateAdvice::BlewUp { at: 1, .. })
        ));
    }

    /// Each piece of advice has its own words and its own JSON; none advises both ways.
    #[test]
    fn every_advice_has_its_own_sentence_and_json() {
        let m: Vec<Vec<i64>> = (0..10).map(|_| (0..10).map(|j| i64::from(j == 1) * 50).collect()).collect();
        let advices = [
            None,
            Some(RateAdvice::Lower { from: 0.5, at: 2, to: 0.8 }),
            Some(RateAdvice::BlewUp { loss: 205.0, at: 1, untrained: 2.3 }),
            Some(RateAdvice::RaiseOrLonger { last: 2.3, untrained: 2.3 }),
        ];
        let mut seen: Vec<(String, String)> = Vec::new();
        for advice in advices {
            let v = TestVerdict { advice, ..judge(&[], 0.1, &m, &names(10)) };
            let said = v.warnings(0.1, 0.5).join("\n");
            assert!(!(said.contains("lower --lr") && said.contains("raise --lr")), "{said}");
            let pair = (said, serde_json::to_string(&v.advice).unwrap());
            assert!(!seen.contains(&pair), "{pair:?}");
            seen.push(pair);
        }
    }

    #[test]
    fn the_warning_says_what_was_measured() {
        let m: Vec<Vec<i64>> = (0..10).map(|_| (0..10).map(|j| i64::from(j == 1) * 50).collect()).collect();
        let v = judge(&[2.3036, 2.3031], 0.1, &m, &names(10));
        assert!(v.at_chance && v.collapse.is_some());
        let said = v.warnings(0.1, 3e-6).join("\n");
        assert!(said.contains("raise --lr (it was 0.000003)") && !said.contains("lower --lr"), "{said}");
        assert!(said.contains("\"c1\" for 100.0%"), "{said}");
    }
}

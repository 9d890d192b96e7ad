//! A sweep's verdicts in words: the effects and importance of [`super::effects`] as the text
//! prints them, and what to change when no trial succeeded.

use super::effects::{Analysis, Method};
use super::importance as judge;
use super::noise::EffectVerdict;
use crate::sweep::space::flag;

/// What to change when no trial succeeded, from how they failed: every one diverged (lower
/// --lr), every one stayed at chance or stalled (raise --lr or train longer), or a mix (widen
/// the search).
pub fn no_winner_advice(trials: &[crate::sweep::Trial]) -> &'static str {
    use crate::sweep::Status as S;
    let all = |f: &dyn Fn(S) -> bool| !trials.is_empty() && trials.iter().all(|t| f(t.status));
    if all(&|s| matches!(s, S::Diverged | S::Dead)) {
        "every trial diverged or died: lower --lr"
    } else if all(&|s| matches!(s, S::Chance | S::Stalled)) {
        "every trial stayed at chance or stalled: raise --lr or train longer (--epochs)"
    } else {
        "widen the search (other --lr, --hidden, --optimizer values)"
    }
}

/// The analysis as text.
pub fn render(a: &Analysis) -> String {
    match a.method {
        Method::TooFew => a.caveat.clone(),
        Method::MainEffects => {
            let mut lines = vec![format!("main effects ({}):", a.caveat)];
            for e in &a.effects {
                let groups: Vec<String> = e
                    .groups
                    .iter()
                    .map(|g| {
                        format!("{:.2}% with {} ({} trials)", 100.0 * g.mean_accuracy, g.value, g.trials)
                    })
                    .collect();
                let interval = match (e.interval, e.verdict) {
                    (Some(d), Some(v)) => {
                        let verdict = match v {
                            EffectVerdict::Real => {
                                "a real effect, at every setting of the others".to_string()
                            }
                            EffectVerdict::WithinNoise => "within noise".to_string(),
                            EffectVerdict::Inconsistent if e.contexts.is_empty() => {
                                "not a controlled comparison: no setting of the others holds both values"
                                    .to_string()
                            }
                            EffectVerdict::Inconsistent => {
                                let at: Vec<String> = e
                                    .contexts
                                    .iter()
                                    .map(|c| {
                                        let what = if c.difference.within_noise {
                                            "within noise"
                                        } else {
                                            "beyond the noise measured"
                                        };
                                        format!(
                                            "{:+.2} at {} ({what})",
                                            100.0 * c.difference.difference,
                                            c.others
                                        )
                                    })
                                    .collect();
                                format!("not a clear effect: {}", at.join("; "))
                            }
                        };
                        format!(" (95 % interval {:.2} to {:.2}: {verdict})", 100.0 * d.low, 100.0 * d.high)
                    }
                    _ => String::new(),
                };
                lines.push(format!(
                    "  {}: {}; spread {:.2} points{interval}",
                    flag(e.name),
                    groups.join(", "),
                    100.0 * e.size
                ));
            }
            lines.join("\n")
        }
        Method::Importance => {
            let mut lines = vec![
                format!("importance ({}):", a.caveat),
                format!(
                    "  Kruskal–Wallis on ranks (a range cut into equal-count bins); ε² is the share of the ranks' \
                     variance its groups explain, clear at p < {}:",
                    judge::CLEAR
                ),
            ];
            if !a.effects.iter().any(|e| e.rank_test.is_some_and(|t| t.clear)) {
                lines.push("  no hyperparameter's effect is clear in these trials".into());
            }
            for e in &a.effects {
                let used = if e.trials < a.trials {
                    format!(", used by {} of {} trials", e.trials, a.trials)
                } else {
                    String::new()
                };
                let (p, clear) = e.rank_test.map_or((f64::NAN, false), |t| (t.p_value, t.clear));
                let verdict = if clear { "clear" } else { "not clear" };
                lines.push(format!("    {}: ε² {:.2} (p {p:.3}, {verdict}{used})", flag(e.name), e.size));
            }
            lines.join("\n")
        }
    }
}

//! What a sweep's trials say about the hyperparameters — no more than the design that produced
//! them supports:
//!
//! - a finished **grid** is a full factorial, so each hyperparameter's *main effect* — its
//!   values' mean validation accuracy, each averaged over every combination of the others — is
//!   a controlled comparison, and is called one;
//! - **random, TPE and halving** trials vary everything at once (TPE even chooses where to look
//!   from earlier results), so two trials never isolate a cause. Each hyperparameter gets a
//!   *rank test* ([`crate::judge::importance`]): do its values' groups differ in accuracy by
//!   more than chance would make them? Ranks see a cliff (one rate where every network
//!   collapses) that a smooth model averages away. It is an estimate from observational trials,
//!   said so, and withheld below a minimum number of trials.
//!
//! A hyperparameter a trial does not use (Adam's momentum) is n/a for that trial: left out of
//! its groups, so only the trials that use it inform it. A trial
//! that failed (diverged, dead, stalled, at chance) counts as 0 % — what TPE is told too.

use serde::Serialize;

use super::importance as judge;
use super::noise::{self, EffectVerdict, SeedNoise};
use crate::sweep::space::{flag, Config, Domain, Param, Space, SEED};

/// How the effects were measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// A finished full factorial: controlled main effects.
    MainEffects,
    /// Observational trials: a rank test per hyperparameter.
    Importance,
    /// Too few trials to tell.
    TooFew,
}

/// One value's trials (main effects).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub value: String,
    /// The exact value (0.05 and 0.05001 both show as 0.0500).
    #[serde(skip)]
    pub exact: String,
    pub mean_accuracy: f64,
    pub trials: usize,
}

/// One hyperparameter's effect.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub name: &'static str,
    /// Main effects: the spread between the best and worst value's mean (0–1). Importance: the
    /// rank test's ε² (0–1).
    pub size: f64,
    /// Main effects: each value's mean.
    pub groups: Vec<Group>,
    /// The trials that use it (not n/a).
    pub trials: usize,
    /// Main effects: the spread is smaller than chance alone could make it. Importance: the rank
    /// test does not call it clear.
    pub within_noise: bool,
    /// Importance: the Kruskal–Wallis test it was judged by.
    pub rank_test: Option<judge::RankEffect>,
    /// Main effects: the best value's mean minus the worst's, with its 95 % interval.
    pub interval: Option<noise::Difference>,
    /// Main effects: real, within noise, or inconsistent across the other settings.
    pub verdict: Option<EffectVerdict>,
    /// Main effects: the best value minus the worst at each setting of the others.
    pub contexts: Vec<Context>,
}

/// A main effect at one setting of the other hyperparameters.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The others' values, as flags: "--lr 0.3".
    pub others: String,
    pub difference: noise::Difference,
}

/// The analysis of a sweep's trials.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub method: Method,
    /// Trials analysed.
    pub trials: usize,
    /// Largest first.
    pub effects: Vec<Effect>,
    /// Main effects: the seed noise measured by retraining the winner with other seeds.
    pub seed_noise: Option<SeedNoise>,
    /// What the numbers can and cannot be read as, in one line.
    pub caveat: String,
}

/// A trial as the analysis reads it: its configuration and score (failures as 0).
pub struct Observation<'a> {
    pub config: &'a Config,
    /// The validation accuracy; `None` for a trial that failed (counted as 0).
    pub accuracy: Option<f64>,
}

impl Observation<'_> {
    fn score(&self) -> f64 {
        self.accuracy.unwrap_or(0.0)
    }
}

/// "; 3 trials that failed count as 0 %", where any did.
fn failures(trials: &[Observation]) -> String {
    match trials.iter().filter(|t| t.accuracy.is_none()).count() {
        0 => String::new(),
        n => format!("; {n} trial(s) that failed (diverged, stalled, died or did not train) count as 0 %"),
    }
}

/// The fewest trials the rank tests are run on, for a space of `dims` hyperparameters.
pub fn minimum_trials(dims: usize) -> usize {
    (2 * dims + 2).max(8)
}

/// Main effects of a finished grid. Each hyperparameter's spread (its best value's mean minus
/// its worst's) is judged by [`noise::difference`]: against the seed noise measured by
/// retraining (`seed`), where there is one, and the binomial noise of `validation_images`
/// together, at 95 %. `merged` says the grid is not a full product (Adam's points that differed
/// only in momentum are one), so each effect is a comparison among the trials that use the
/// hyperparameter.
pub fn main_effects(
    space: &Space,
    trials: &[Observation],
    validation_images: usize,
    merged: bool,
    seed: Option<SeedNoise>,
) -> Analysis {
    let mut effects = Vec::new();
    let mean_all = trials.iter().map(Observation::score).sum::<f64>() / trials.len().max(1) as f64;
    if trials.iter().all(|t| t.accuracy.is_none()) {
        return Analysis {
            method: Method::TooFew,
            trials: trials.len(),
            effects,
            seed_noise: None,
            caveat:
                "every trial failed or stayed at chance: no hyperparameter's effect can be read from them"
                    .into(),
        };
    }
    // Hyperparameters some trial does not use (Adam's momentum) are not held fixed between
    // settings: a context is the values of the others.
    let loose: Vec<&str> = space
        .dims
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| trials.iter().any(|t| matches!(t.config.get(n), Some(Param::Unused))))
        .collect();
    for (name, _) in space.dims.iter().filter(|(n, _)| *n != SEED) {
        // Grouped by the exact value (0.05 and 0.05001 are two), shown short.
        let mut groups: Vec<(String, String, Vec<f64>)> = Vec::new();
        for t in trials {
            match t.config.get(name) {
                Some(Param::Unused) | None => {}
                Some(v) => match groups.iter_mut().find(|(exact, _, _)| *exact == v.text()) {
                    Some((_, _, scores)) => scores.push(t.score()),
                    None => groups.push((v.text(), v.short(), vec![t.score()])),
                },
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let mut groups: Vec<Group> = groups
            .into_iter()
            .map(|(exact, value, s)| Group {
                value,
                exact,
                mean_accuracy: s.iter().sum::<f64>() / s.len() as f64,
                trials: s.len(),
            })
            .collect();
        groups.sort_by(|a, b| b.mean_accuracy.total_cmp(&a.mean_accuracy));
        let (best, worst) = (&groups[0], &groups[groups.len() - 1]);
        let size = best.mean_accuracy - worst.mean_accuracy;
        let interval =
            noise::difference(size, best.trials, worst.trials, mean_all, validation_images, seed.as_ref());
        // The same two values at each setting of the others (their replicates' means, where a
        // grid repeats seeds): a controlled comparison holds there.
        let others = |c: &Config| -> Vec<(&'static str, String, String)> {
            c.0.iter()
                .filter(|(n, _)| *n != *name && *n != SEED && !loose.contains(n))
                .map(|(n, v)| (*n, v.text(), v.short()))
                .collect()
        };
        let value = |t: &Observation, g: &Group| t.config.get(name).is_some_and(|v| v.text() == g.exact);
        // The others' (name, exact value, shown value), and the two values' scores there.
        type Cell = (Vec<(&'static str, String, String)>, [Vec<f64>; 2]);
        let mut cells: Vec<Cell> = Vec::new();
        for t in trials {
            let side = match (value(t, best), value(t, worst)) {
                (true, _) => 0,
                (_, true) => 1,
                _ => continue,
            };
            let key = others(t.config);
            match cells.iter_mut().find(|(k, _)| *k == key) {
                Some((_, sides)) => sides[side].push(t.score()),
                None => {
                    let mut sides = [Vec::new(), Vec::new()];
                    sides[side].push(t.score());
                    cells.push((key, sides));
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let contexts: Vec<Context> = cells
            .iter()
            .filter(|(_, [b, w])| !b.is_empty() && !w.is_empty())
            .map(|(key, [b, w])| Context {
                others: key
                    .iter()
                    .map(|(n, _, short)| format!("{} {short}", flag(n)))
                    .collect::<Vec<_>>()
                    .join(", "),
                difference: noise::difference(
                    mean(b) - mean(w),
                    b.len(),
                    w.len(),
                    mean_all,
                    validation_images,
                    seed.as_ref(),
                ),
            })
            .collect();
        let pairs: Vec<noise::Difference> = contexts.iter().map(|c| c.difference).collect();
        let verdict = noise::main_effect(&interval, &pairs);
        let used = groups.iter().map(|g| g.trials).sum();
        effects.push(Effect {
            name,
            size,
            groups,
            trials: used,
            within_noise: verdict != EffectVerdict::Real,
            rank_test: None,
            interval: Some(interval),
            verdict: Some(verdict),
            contexts,
        });
    }
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    if effects.is_empty() {
        return Analysis {
            method: Method::TooFew,
            trials: trials.len(),
            effects,
            seed_noise: None,
            caveat: "a grid of one configuration: nothing to compare".into(),
        };
    }
    let design = if merged {
        "a full factorial where each value applies (Adam's trials have no momentum, so momentum is \
         compared among the others)"
    } else {
        "a full factorial"
    };
    let noise = match &seed {
        Some(s) if s.configurations > 1 => format!(
            "noise is the seed-to-seed spread measured by the replicates ({} configurations, sd {:.2} points, \
             {} degrees of freedom) plus the binomial noise of {validation_images} validation images",
            s.configurations,
            100.0 * s.sd,
            s.df
        ),
        Some(s) => format!(
            "noise is the seed-to-seed spread measured by training the winner with {} seeds (sd {:.2} points) \
             plus the binomial noise of {validation_images} validation images",
            s.accuracies.len(),
            100.0 * s.sd
        ),
        None => format!(
            "noise is the binomial noise of {validation_images} validation images only: the seed-to-seed \
             spread was not measured (the winner was not retrained), so \"real\" may be too generous"
        ),
    };
    Analysis {
        method: Method::MainEffects,
        trials: trials.len(),
        effects,
        caveat: format!(
            "{design}: each value's mean is over every combination of the other values, so these are \
             controlled comparisons; {noise}; a spread is real when its 95 % interval leaves out 0 and the same \
             difference does at every setting of the others{}",
            failures(trials)
        ),
        seed_noise: seed,
    }
}

/// Each trial's value of one hyperparameter as a number for ranking (a list's choice as its
/// index), `None` where the trial does not use it.
fn values(name: &str, domain: &Domain, trials: &[Observation]) -> Vec<Option<f64>> {
    let choices = domain.values(1);
    trials
        .iter()
        .map(|t| match t.config.get(name) {
            Some(Param::Unused) | None => None,
            Some(v) => match domain {
                Domain::Range { .. } => v.number(),
                _ => choices.iter().position(|c| c == v).map(|i| i as f64),
            },
        })
        .collect()
}

/// Importance of each hyperparameter from observational trials: a rank test per
/// hyperparameter ([`crate::judge::importance`]).
pub fn importance(space: &Space, trials: &[Observation], design: &str) -> Analysis {
    let y: Vec<f64> = trials.iter().map(Observation::score).collect();
    let needed = minimum_trials(space.dims.len());
    if trials.len() < needed {
        return Analysis {
            method: Method::TooFew,
            trials: trials.len(),
            effects: Vec::new(),
            seed_noise: None,
            caveat: format!(
                "too few trials to tell which hyperparameter matters: {} trials, at least {needed} for this space",
                trials.len()
            ),
        };
    }
    let mut effects: Vec<Effect> = space
        .dims
        .iter()
        .filter(|(name, _)| *name != SEED)
        .filter_map(|(name, domain)| {
            let vs = values(name, domain, trials);
            let range = matches!(domain, Domain::Range { .. });
            let test = judge::kruskal(&judge::groups(&vs, &y, range))?;
            Some(Effect {
                name,
                size: test.size,
                groups: Vec::new(),
                trials: vs.iter().flatten().count(),
                within_noise: !test.clear,
                rank_test: Some(test),
                interval: None,
                verdict: None,
                contexts: Vec::new(),
            })
        })
        .collect();
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    let caveat = format!(
        "a rank test per hyperparameter over {} observational trials ({design}, so the hyperparameters varied \
         together): each is judged alone, the others varying within its groups — not a controlled experiment{}",
        trials.len(),
        failures(trials)
    );
    Analysis { method: Method::Importance, trials: trials.len(), effects, caveat, seed_noise: None }
}

#[cfg(test)]
#[path = "effects_tests.rs"]
mod tests;

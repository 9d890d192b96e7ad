//! What the trials say about the hyperparameters — no more than the design that produced them
//! supports:
//!
//! - a finished **grid** is a full factorial, so each hyperparameter's *main effect* — its
//!   values' mean validation accuracy, each averaged over every combination of the others — is
//!   a controlled comparison, and is called one;
//! - **random, TPE and halving** trials vary everything at once (TPE even chooses where to look
//!   from earlier results), so two trials never isolate a cause. Each hyperparameter gets an
//!   *importance that accounts for the others*: how much worse a model of validation accuracy
//!   predicts held-out trials without it (leave-one-out R² of a ridge regression, quadratic in
//!   each range, one-hot in each list). It is an estimate from observational trials, said so,
//!   and withheld below a minimum number of trials.
//!
//! A hyperparameter a trial does not use (Adam's momentum) is n/a for that trial: left out of
//! its groups, and zero in its model columns, so only the trials that use it inform it. A trial
//! that failed (diverged, dead, stalled, at chance) counts as 0 % — what TPE is told too.

use serde::Serialize;

use super::regression::loo_r2;
use super::space::{flag, Config, Domain, Param, Space};

/// How the effects were measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// A finished full factorial: controlled main effects.
    MainEffects,
    /// Observational trials: leave-one-out importance from a fitted model.
    Importance,
    /// Too few trials to tell.
    TooFew,
}

/// One value's trials (main effects).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub value: String,
    pub mean_accuracy: f64,
    pub trials: usize,
}

/// One hyperparameter's effect.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub name: &'static str,
    /// Main effects: the spread between the best and worst value's mean (0–1). Importance: the
    /// leave-one-out R² lost without it (0–1, clamped at 0).
    pub size: f64,
    /// Main effects: each value's mean.
    pub groups: Vec<Group>,
    /// The trials that use it (not n/a).
    pub trials: usize,
    /// Main effects: the spread is smaller than chance alone could make it.
    pub within_noise: bool,
}

/// The analysis of a sweep's trials.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub method: Method,
    /// Trials analysed.
    pub trials: usize,
    /// For importance: the full model's leave-one-out R².
    pub model_r2: Option<f64>,
    /// Largest first.
    pub effects: Vec<Effect>,
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
        n => format!("; {n} trial(s) that failed or stayed at chance count as 0 %"),
    }
}

/// The fewest trials a model with `columns` features is fitted to.
pub fn minimum_trials(columns: usize) -> usize {
    (2 * columns + 2).max(10)
}

/// Main effects of a finished grid.
/// Main effects of a finished grid. `validation_images` sets the noise: a trial's accuracy on
/// n images has a binomial standard deviation √(p(1 − p)/n), so two group means differ by
/// chance by up to about 2·√2 of that over √(trials in the smaller group); an effect below it is
/// said to be within noise. `merged` says the grid is not a full product (Adam's points that
/// differed only in momentum are one), so each effect is a comparison among the trials that use
/// the hyperparameter.
pub fn main_effects(
    space: &Space,
    trials: &[Observation],
    validation_images: usize,
    merged: bool,
) -> Analysis {
    let mut effects = Vec::new();
    let mean_all = trials.iter().map(Observation::score).sum::<f64>() / trials.len().max(1) as f64;
    let sd = (mean_all * (1.0 - mean_all) / validation_images.max(1) as f64).sqrt();
    let mut noise: f64 = 0.0;
    for (name, _) in &space.dims {
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
            .map(|(_, value, s)| Group {
                value,
                mean_accuracy: s.iter().sum::<f64>() / s.len() as f64,
                trials: s.len(),
            })
            .collect();
        groups.sort_by(|a, b| b.mean_accuracy.total_cmp(&a.mean_accuracy));
        let size = groups[0].mean_accuracy - groups[groups.len() - 1].mean_accuracy;
        let used = groups.iter().map(|g| g.trials).sum();
        let fewest = groups.iter().map(|g| g.trials).min().unwrap_or(1).max(1);
        let threshold = 2.0 * std::f64::consts::SQRT_2 * sd / (fewest as f64).sqrt();
        noise = noise.max(threshold);
        effects.push(Effect { name, size, groups, trials: used, within_noise: size < threshold });
    }
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    if effects.is_empty() {
        return Analysis {
            method: Method::TooFew,
            trials: trials.len(),
            model_r2: None,
            effects,
            caveat: "a grid of one configuration: nothing to compare".into(),
        };
    }
    let design = if merged {
        "a full factorial where each value applies (Adam's trials have no momentum, so momentum is \
         compared among the others)"
    } else {
        "a full factorial"
    };
    Analysis {
        method: Method::MainEffects,
        trials: trials.len(),
        model_r2: None,
        effects,
        caveat: format!(
            "{design}: each value's mean is over every combination of the other values, so these are \
             controlled comparisons; differences under {:.2} points are within the noise of {validation_images} \
             validation images{}",
            100.0 * noise,
            failures(trials)
        ),
    }
}

/// One hyperparameter's model columns for every trial (0 where the trial does not use it).
fn columns(name: &str, domain: &Domain, trials: &[Observation]) -> Vec<Vec<f64>> {
    let values: Vec<Option<&Param>> =
        trials.iter().map(|t| t.config.get(name).filter(|v| **v != Param::Unused)).collect();
    match domain {
        &Domain::Range { log, .. } => {
            let x: Vec<Option<f64>> = values
                .iter()
                .map(|v| v.and_then(Param::number).map(|n| if log { n.ln() } else { n }))
                .collect();
            let used: Vec<f64> = x.iter().flatten().copied().collect();
            let mean = used.iter().sum::<f64>() / used.len().max(1) as f64;
            let sd = (used.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / used.len().max(1) as f64).sqrt();
            if sd == 0.0 {
                return Vec::new();
            }
            let z: Vec<Option<f64>> = x.iter().map(|v| v.map(|v| (v - mean) / sd)).collect();
            let square_mean = z.iter().flatten().map(|v| v * v).sum::<f64>() / used.len() as f64;
            vec![
                z.iter().map(|v| v.unwrap_or(0.0)).collect(),
                z.iter().map(|v| v.map_or(0.0, |v| v * v - square_mean)).collect(),
            ]
        }
        list => {
            let choices = list.values(1);
            // One column per choice but the first (the baseline); choices never seen add none.
            choices
                .iter()
                .skip(1)
                .map(|c| values.iter().map(|v| if *v == Some(c) { 1.0 } else { 0.0 }).collect::<Vec<f64>>())
                .filter(|col| col.iter().any(|&v| v != 0.0))
                .collect()
        }
    }
}

/// Importance of each hyperparameter from observational trials.
pub fn importance(space: &Space, trials: &[Observation], design: &str) -> Analysis {
    let y: Vec<f64> = trials.iter().map(Observation::score).collect();
    let per_dim: Vec<Vec<Vec<f64>>> = space.dims.iter().map(|(n, d)| columns(n, d, trials)).collect();
    let width: usize = per_dim.iter().map(Vec::len).sum();
    let needed = minimum_trials(width);
    let caveat = format!(
        "an estimate from {} observational trials ({design}, so the hyperparameters varied together): \
         not a controlled experiment",
        trials.len()
    );
    if trials.len() < needed || width == 0 {
        return Analysis {
            method: Method::TooFew,
            trials: trials.len(),
            model_r2: None,
            effects: Vec::new(),
            caveat: format!(
                "too few trials to tell which hyperparameter matters: {} trials, at least {needed} for this space",
                trials.len()
            ),
        };
    }
    let all: Vec<&Vec<f64>> = per_dim.iter().flatten().collect();
    // A model that predicts held-out trials worse than their mean predicts nothing: 0, not less.
    let full = loo_r2(&all, &y).max(0.0);
    let mut effects: Vec<Effect> = space
        .dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !per_dim[*i].is_empty())
        .map(|(i, (name, _))| {
            let without: Vec<&Vec<f64>> =
                per_dim.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c).collect();
            let used =
                trials.iter().filter(|t| !matches!(t.config.get(name), Some(Param::Unused) | None)).count();
            Effect {
                name,
                size: (full - loo_r2(&without, &y).max(0.0)).max(0.0),
                groups: Vec::new(),
                trials: used,
                within_noise: false,
            }
        })
        .collect();
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    Analysis { method: Method::Importance, trials: trials.len(), model_r2: Some(full), effects, caveat }
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
                let noise = if e.within_noise { " (within noise)" } else { "" };
                lines.push(format!(
                    "  {}: {}; spread {:.2} points{noise}",
                    flag(e.name),
                    groups.join(", "),
                    100.0 * e.size
                ));
            }
            lines.join("\n")
        }
        Method::Importance => {
            let r2 = a.model_r2.unwrap_or(0.0);
            let mut lines = vec![
                format!("importance ({}):", a.caveat),
                format!(
                    "  a model of validation accuracy (quadratic in each range) predicts {r2:.2} of its variance \
                     in held-out trials; without each hyperparameter it loses:"
                ),
            ];
            if r2 < 0.1 {
                lines.push("  the model predicts almost nothing: no hyperparameter's effect is clear".into());
            }
            for e in &a.effects {
                let used = if e.trials < a.trials {
                    format!(" (used by {} of {} trials)", e.trials, a.trials)
                } else {
                    String::new()
                };
                lines.push(format!("    {}: {:.2}{used}", flag(e.name), e.size));
            }
            lines.join("\n")
        }
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;

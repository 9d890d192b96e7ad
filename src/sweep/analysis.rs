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
pub fn main_effects(space: &Space, trials: &[Observation]) -> Analysis {
    let mut effects = Vec::new();
    for (name, _) in &space.dims {
        let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
        for t in trials {
            match t.config.get(name) {
                Some(Param::Unused) | None => {}
                Some(v) => match groups.iter_mut().find(|(label, _)| *label == v.short()) {
                    Some((_, scores)) => scores.push(t.score()),
                    None => groups.push((v.short(), vec![t.score()])),
                },
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let mut groups: Vec<Group> = groups
            .into_iter()
            .map(|(value, s)| Group {
                value,
                mean_accuracy: s.iter().sum::<f64>() / s.len() as f64,
                trials: s.len(),
            })
            .collect();
        groups.sort_by(|a, b| b.mean_accuracy.total_cmp(&a.mean_accuracy));
        let size = groups[0].mean_accuracy - groups[groups.len() - 1].mean_accuracy;
        let used = groups.iter().map(|g| g.trials).sum();
        effects.push(Effect { name, size, groups, trials: used });
    }
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    Analysis {
        method: Method::MainEffects,
        trials: trials.len(),
        model_r2: None,
        effects,
        caveat: format!(
            "a full factorial: each value's mean is over every combination of the other values, so these \
             are controlled comparisons{}",
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
            }
        })
        .collect();
    effects.sort_by(|a, b| b.size.total_cmp(&a.size));
    Analysis { method: Method::Importance, trials: trials.len(), model_r2: Some(full), effects, caveat }
}

/// Leave-one-out R² of a ridge regression of `y` on `columns` (and an intercept): 1 − PRESS/SST,
/// with each held-out residual eᵢ/(1 − hᵢᵢ).
pub fn loo_r2(columns: &[&Vec<f64>], y: &[f64]) -> f64 {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if sst == 0.0 {
        return 0.0;
    }
    // Rows with a leading 1 for the intercept.
    let p = columns.len() + 1;
    let row = |i: usize| -> Vec<f64> { std::iter::once(1.0).chain(columns.iter().map(|c| c[i])).collect() };
    let mut a = vec![vec![0.0; p]; p];
    let mut b = vec![0.0; p];
    for (i, &yi) in y.iter().enumerate() {
        let x = row(i);
        for (r, (a_row, b_r)) in a.iter_mut().zip(&mut b).enumerate() {
            *b_r += x[r] * yi;
            for (c, a_rc) in a_row.iter_mut().enumerate() {
                *a_rc += x[r] * x[c];
            }
        }
    }
    // A light ridge on the slopes keeps collinear columns solvable.
    for (r, a_row) in a.iter_mut().enumerate().skip(1) {
        a_row[r] += 1e-3;
    }
    let Some(inverse) = invert(a) else { return 0.0 };
    let beta: Vec<f64> = inverse.iter().map(|r| r.iter().zip(&b).map(|(u, v)| u * v).sum()).collect();
    let press: f64 = (0..n)
        .map(|i| {
            let x = row(i);
            let fit: f64 = x.iter().zip(&beta).map(|(u, v)| u * v).sum();
            let h: f64 =
                (0..p).map(|r| x[r] * (0..p).map(|c| inverse[r][c] * x[c]).sum::<f64>()).sum::<f64>();
            ((y[i] - fit) / (1.0 - h).max(1e-9)).powi(2)
        })
        .sum();
    1.0 - press / sst
}

/// The inverse of a small symmetric positive-definite matrix (Gauss–Jordan with pivoting).
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let p = a.len();
    let mut inv: Vec<Vec<f64>> =
        (0..p).map(|i| (0..p).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for col in 0..p {
        let pivot = (col..p).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..p {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for i in 0..p {
            if i != col {
                let f = a[i][col];
                for j in 0..p {
                    a[i][j] -= f * a[col][j];
                    inv[i][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
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
                lines.push(format!(
                    "  {}: {}; spread {:.2} points",
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
mod tests {
    use super::*;
    use crate::train::TrainConfig;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn space(flags: &[(&'static str, &str)]) -> Space {
        let mut s = Space::default();
        for (n, t) in flags {
            s.add(n, t).unwrap();
        }
        s
    }

    #[test]
    fn a_planted_effect_is_found_and_noise_is_not() {
        let s =
            space(&[("lr", "0.001..1:log"), ("hidden", "16,32,64"), ("weight_decay", "0.00001..0.01:log")]);
        let base = TrainConfig::default();
        let mut rng = StdRng::seed_from_u64(7);
        let configs: Vec<Config> = (0..40).map(|_| s.sample(&mut rng, &base)).collect();
        // Accuracy peaks at lr 0.03; width and weight decay do nothing but noise.
        let scores: Vec<f64> = configs
            .iter()
            .map(|c| {
                let lr = c.get("lr").and_then(Param::number).unwrap();
                0.9 - 0.08 * (lr.log10() + 1.5).powi(2) + 0.005 * (rng.random::<f64>() - 0.5)
            })
            .collect();
        let trials: Vec<Observation> = configs
            .iter()
            .zip(&scores)
            .map(|(config, &accuracy)| Observation { config, accuracy: Some(accuracy) })
            .collect();
        let a = importance(&s, &trials, "random search");
        assert_eq!(a.method, Method::Importance);
        assert_eq!(a.effects[0].name, "lr", "{a:?}");
        assert!(a.effects[0].size > 0.5, "{a:?}");
        assert!(a.effects[1..].iter().all(|e| e.size < 0.05), "{a:?}");
        assert!(a.model_r2.unwrap() > 0.9);
        assert!(render(&a).contains("not a controlled experiment"));
    }

    #[test]
    fn too_few_trials_say_so() {
        let s = space(&[("lr", "0.001..1:log"), ("hidden", "16,64")]);
        let base = TrainConfig::default();
        let mut rng = StdRng::seed_from_u64(1);
        let configs: Vec<Config> = (0..3).map(|_| s.sample(&mut rng, &base)).collect();
        let trials: Vec<Observation> =
            configs.iter().map(|config| Observation { config, accuracy: Some(0.5) }).collect();
        let a = importance(&s, &trials, "random search");
        assert_eq!(a.method, Method::TooFew);
        assert!(a.effects.is_empty() && render(&a).contains("too few trials"), "{}", render(&a));
    }

    #[test]
    fn an_unused_hyperparameter_is_left_out_of_its_groups() {
        // The grid of the issue: sgd with momentum 0.5 and 0.9, and adam (momentum n/a).
        let s = space(&[("momentum", "0.5,0.9"), ("optimizer", "sgd,adam")]);
        let grid = s.grid(3, &TrainConfig::default());
        let score = |c: &Config| {
            if c.get("optimizer") == Some(&Param::Optimizer(crate::train::OptimizerKind::Adam)) {
                0.52
            } else {
                0.17
            }
        };
        let trials: Vec<Observation> =
            grid.iter().map(|config| Observation { config, accuracy: Some(score(config)) }).collect();
        let a = main_effects(&s, &trials);
        let momentum = a.effects.iter().find(|e| e.name == "momentum").unwrap();
        assert_eq!(momentum.trials, 2, "only the two sgd trials use momentum");
        assert!(momentum.groups.iter().all(|g| g.value != "n/a" && !g.value.is_empty()), "{momentum:?}");
        assert_eq!(momentum.size, 0.0, "between sgd's own momenta nothing changed");
        assert_eq!(a.effects[0].name, "optimizer", "the difference was the optimizer");
        assert!((a.effects[0].size - 0.35).abs() < 1e-12);
    }

    #[test]
    fn main_effects_average_over_the_other_factors() {
        // A 2×2 factorial: lr adds 0.2, hidden adds 0.02.
        let s = space(&[("lr", "0.01,0.1"), ("hidden", "16,64")]);
        let grid = s.grid(3, &TrainConfig::default());
        let score = |c: &Config| {
            0.5 + if c.get("lr") == Some(&Param::Float(0.1)) { 0.2 } else { 0.0 }
                + if c.get("hidden") == Some(&Param::Hidden(vec![64])) { 0.02 } else { 0.0 }
        };
        let trials: Vec<Observation> =
            grid.iter().map(|config| Observation { config, accuracy: Some(score(config)) }).collect();
        let a = main_effects(&s, &trials);
        let sizes: Vec<(&str, f64)> =
            a.effects.iter().map(|e| (e.name, (e.size * 1e6).round() / 1e6)).collect();
        assert_eq!(sizes, [("lr", 0.2), ("hidden", 0.02)]);
        assert!(render(&a).contains("controlled comparisons"));
    }

    #[test]
    fn loo_r2_is_high_for_a_line_and_low_for_noise() {
        let x: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        assert!(loo_r2(&[&x], &y) > 0.999);
        let mut rng = StdRng::seed_from_u64(3);
        let noise: Vec<f64> = (0..30).map(|_| rng.random::<f64>()).collect();
        assert!(loo_r2(&[&x], &noise) < 0.1);
    }
}

//! Successive halving as scikit-learn computes it (`HalvingGridSearchCV`, Jamieson & Talwalkar
//! 2016), with epochs as the resource: min_resources = 1 epoch, max_resources = `--epochs`, and
//! `--factor` (2 by default; scikit-learn's default is 3). Distinct configurations only; each
//! rung trains the survivors from scratch with `factor` times the epochs of the one before (at
//! most `--epochs`), and the best 1/factor go on, ranked by validation accuracy. As in
//! scikit-learn the rungs are as many as dividing the candidates down to one needs or as many
//! as multiplying from one epoch up to `--epochs` allows, whichever is fewer — so a plan may end
//! below `--epochs` when the candidates run out first: `--epochs` is the most a configuration
//! can get.

use serde::Serialize;

use super::space::Config;

/// One rung of the plan: how many configurations train, for how many epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RungPlan {
    pub configurations: usize,
    pub epochs: usize,
}

/// ⌊log_base(x)⌋ as Python's `math.log(x, base)` floors it (in floating point: scikit-learn's
/// `log(243, 3)` is 4.999…, so 243 candidates get one rung fewer there, and here).
fn floor_log(x: usize, base: usize) -> usize {
    ((x.max(1) as f64).ln() / (base as f64).ln()).floor() as usize
}

/// The rungs for `candidates` distinct configurations, at most `epochs` (≥ 1) epochs each, and
/// a reduction `factor` (≥ 2): scikit-learn's `_run_search` without aggressive elimination.
pub fn plan(candidates: usize, epochs: usize, factor: usize) -> Vec<RungPlan> {
    let (candidates, epochs, factor) = (candidates.max(1), epochs.max(1), factor.max(2));
    let required = 1 + floor_log(candidates, factor);
    let possible = 1 + floor_log(epochs, factor);
    let mut left = candidates;
    (0..required.min(possible))
        .map(|r| {
            let rung = RungPlan {
                configurations: left,
                epochs: factor.checked_pow(r as u32).map_or(epochs, |e| e.min(epochs)),
            };
            left = left.div_ceil(factor);
            rung
        })
        .collect()
}

/// The epochs a halving sweep trains at most without `--epochs`: enough for its rungs to divide
/// all the way down to one configuration, at least `at_least`, at most the largest power of
/// `factor` up to 16 (more trials then get fewer rungs, instead of a budget nobody asked for).
pub fn default_epochs(candidates: usize, at_least: usize, factor: usize) -> usize {
    let factor = factor.max(2);
    let cap = factor.pow(floor_log(16, factor) as u32);
    let needed = factor.checked_pow(floor_log(candidates, factor) as u32).unwrap_or(cap);
    needed.min(cap).max(at_least)
}

/// The first `wanted` distinct configurations `draw` yields, trying at most 100 draws per
/// configuration wanted: a space with fewer distinct points gives what it has.
pub fn distinct(wanted: usize, mut draw: impl FnMut() -> Config) -> Vec<Config> {
    let mut found: Vec<Config> = Vec::new();
    let mut tries = 0;
    while found.len() < wanted && tries < 100 * wanted.max(1) {
        let c = draw();
        tries += 1;
        if !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// One rung as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    pub epochs: usize,
    /// (trial, validation accuracy) of every configuration trained in this rung.
    pub results: Vec<(usize, Option<f64>)>,
    /// The trials that went on to the next rung.
    pub promoted: Vec<usize>,
    /// False for a rung cut short by --max-minutes or Ctrl-C (nothing was promoted from it).
    pub complete: bool,
}

/// The best `keep` of a rung's (trial, accuracy), ties to the earlier trial. A trial at chance
/// competes with the accuracy it measured; one that diverged or failed scores below every one.
pub fn promote(results: &[(usize, f64)], keep: usize) -> Vec<usize> {
    let mut ranked = results.to_vec();
    // Stable: ties keep the earlier trial.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.into_iter().take(keep).map(|(t, _)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::space::Param;

    fn epochs(plan: &[RungPlan]) -> Vec<(usize, usize)> {
        plan.iter().map(|r| (r.configurations, r.epochs)).collect()
    }

    /// scikit-learn's own plans: `/root/.cache/nnopt/reference-venv/bin/python
    /// scripts/reference/halving.py` runs `HalvingGridSearchCV` (resource = epochs,
    /// min_resources 1, max_resources = --epochs) and prints (trials, epochs, factor, rungs).
    /// (trials, epochs, factor, rungs as (configurations, epochs)).
    type Setting = (usize, usize, usize, &'static [(usize, usize)]);

    const SKLEARN: &[Setting] = &[
        (5, 3, 2, &[(5, 1), (3, 2)]),
        (10, 16, 2, &[(10, 1), (5, 2), (3, 4), (2, 8)]),
        (12, 6, 2, &[(12, 1), (6, 2), (3, 4)]),
        (27, 9, 2, &[(27, 1), (14, 2), (7, 4), (4, 8)]),
        (7, 5, 2, &[(7, 1), (4, 2), (2, 4)]),
        (9, 3, 2, &[(9, 1), (5, 2)]),
        (33, 7, 2, &[(33, 1), (17, 2), (9, 4)]),
        (2, 8, 2, &[(2, 1), (1, 2)]),
        (1, 4, 2, &[(1, 1)]),
        (8, 8, 2, &[(8, 1), (4, 2), (2, 4), (1, 8)]),
        (8, 4, 2, &[(8, 1), (4, 2), (2, 4)]),
        (8, 2, 2, &[(8, 1), (4, 2)]),
        (8, 1, 2, &[(8, 1)]),
        (3, 5, 2, &[(3, 1), (2, 2)]),
        (5, 16, 2, &[(5, 1), (3, 2), (2, 4)]),
        (16, 16, 2, &[(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)]),
        (27, 9, 3, &[(27, 1), (9, 3), (3, 9)]),
        (12, 6, 3, &[(12, 1), (4, 3)]),
        (10, 27, 3, &[(10, 1), (4, 3), (2, 9)]),
        (243, 81, 3, &[(243, 1), (81, 3), (27, 9), (9, 27), (3, 81)]),
        (100, 10, 3, &[(100, 1), (34, 3), (12, 9)]),
        (4, 16, 4, &[(4, 1), (1, 4)]),
        (2, 2, 2, &[(2, 1), (1, 2)]),
        (64, 3, 2, &[(64, 1), (32, 2)]),
    ];

    #[test]
    fn plans_are_scikit_learn_s() {
        for &(trials, max_epochs, factor, rungs) in SKLEARN {
            assert_eq!(
                epochs(&plan(trials, max_epochs, factor)),
                rungs,
                "{trials} trials, {max_epochs} epochs, factor {factor}"
            );
        }
    }

    #[test]
    fn default_epochs_cover_the_rungs_up_to_16() {
        assert_eq!(default_epochs(8, 3, 2), 8);
        assert_eq!(default_epochs(12, 3, 2), 8);
        assert_eq!(default_epochs(2, 3, 2), 3);
        assert_eq!(default_epochs(10_000, 3, 2), 16);
        assert_eq!(default_epochs(27, 3, 3), 9);
        // With the default epochs, no rung scikit-learn's plan needs is cut, up to 16 epochs.
        for trials in 1..=16 {
            assert_eq!(plan(trials, default_epochs(trials, 1, 2), 2), plan(trials, 1 << 20, 2), "{trials}");
        }
    }

    #[test]
    fn distinct_draws_stop_at_what_the_space_holds() {
        let mut k = 0;
        let draws = distinct(8, || {
            k += 1;
            Config(vec![("hidden", Param::Int(k % 2))])
        });
        assert_eq!(draws.len(), 2, "two distinct points, however many are asked");
        assert_eq!(promote(&[(1, 0.5), (2, 0.9), (3, 0.9), (4, 0.1)], 2), [2, 3]);
    }
}

//! Successive halving as the literature defines it (Jamieson & Talwalkar 2016; scikit-learn's
//! `HalvingRandomSearchCV`, optuna's `SuccessiveHalvingPruner`): distinct configurations
//! only; each rung trains the survivors from scratch with twice the epochs of the one before,
//! and the better half goes on. The rungs are fitted to the budget it is given, never refused:
//! as many rungs as halving the candidates down to one needs, or as many as doubling from one
//! epoch up to `--epochs` allows, whichever is fewer; the last rung trains `--epochs`.

use serde::Serialize;

use super::space::Config;

/// One rung of the plan: how many configurations train, for how many epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RungPlan {
    pub configurations: usize,
    pub epochs: usize,
}

/// The rungs for `candidates` distinct configurations and a last rung of `epochs` (≥ 1).
pub fn plan(candidates: usize, epochs: usize) -> Vec<RungPlan> {
    let candidates = candidates.max(1);
    let epochs = epochs.max(1);
    // Halving n candidates to one takes ⌈log₂ n⌉ + 1 rungs; doubling up to `epochs` from one
    // epoch allows ⌊log₂ epochs⌋ + 1.
    let required = (usize::BITS - (candidates - 1).leading_zeros()) as usize + 1;
    let possible = (usize::BITS - epochs.leading_zeros()) as usize;
    let rungs = required.min(possible);
    (0..rungs)
        .map(|r| RungPlan {
            configurations: candidates.div_ceil(1 << r),
            // The last rung exactly `epochs`, each before it half the next (at least one).
            epochs: (epochs >> (rungs - 1 - r)).max(1),
        })
        .collect()
}

/// The epochs a halving sweep trains without `--epochs`: enough for its rungs to halve all the
/// way down to one configuration, at least `at_least`, at most 16 (more trials then get fewer
/// rungs, fitted to 16 epochs, instead of a budget nobody asked for).
pub fn default_epochs(candidates: usize, at_least: usize) -> usize {
    let rungs = plan(candidates, usize::MAX >> 1).len();
    (1usize << (rungs - 1).min(4)).max(at_least)
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

/// The best `keep` of a rung's (trial, score), ties to the earlier trial.
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

    #[test]
    fn a_full_budget_halves_down_to_one() {
        assert_eq!(epochs(&plan(8, 8)), [(8, 1), (4, 2), (2, 4), (1, 8)]);
        assert_eq!(epochs(&plan(5, 16)), [(5, 2), (3, 4), (2, 8), (1, 16)]);
    }

    #[test]
    fn a_short_budget_gets_fewer_rungs_never_a_refusal() {
        // scikit-learn: n_iterations = min(n_possible_iterations, n_required_iterations).
        assert_eq!(epochs(&plan(8, 4)), [(8, 1), (4, 2), (2, 4)]);
        assert_eq!(epochs(&plan(8, 2)), [(8, 1), (4, 2)]);
        assert_eq!(epochs(&plan(8, 1)), [(8, 1)]);
        assert_eq!(epochs(&plan(1, 5)), [(1, 5)]);
        assert_eq!(epochs(&plan(3, 5)), [(3, 1), (2, 2), (1, 5)]);
        assert_eq!(epochs(&plan(10_000, 16)).len(), 5);
    }

    #[test]
    fn default_epochs_cover_the_rungs_up_to_16() {
        assert_eq!(default_epochs(8, 3), 8);
        assert_eq!(default_epochs(12, 3), 16);
        assert_eq!(default_epochs(2, 3), 3);
        assert_eq!(default_epochs(10_000, 3), 16);
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

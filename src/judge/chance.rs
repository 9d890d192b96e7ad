//! Chance, one bound for every command: a network that learned nothing guesses without looking
//! at the image, so each of n images is right with probability at most `majority` (the most
//! common class's share) and the number right is binomial. A model is better than chance when
//! it gets at least `needed` right, the smallest count that guessing reaches with probability
//! at most [`FLUKE`] — computed from the exact binomial distribution, not a normal
//! approximation, so the probability stated is the one the bound has.

use serde::Serialize;

/// The probability of a fluke the bound allows: one in a thousand.
pub const FLUKE: f64 = 1e-3;

/// The chance bound for one scored set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChanceBound {
    /// The most common class's share of the images: what always guessing it scores.
    pub majority: f64,
    pub images: usize,
    /// Correct answers needed to beat chance; `images + 1` where nothing can (one class).
    pub needed: usize,
    /// P(guessing gets at least `needed` right): at most [`FLUKE`].
    pub probability: f64,
}

impl ChanceBound {
    /// The bound for `images` images whose most common class holds `majority` of them.
    pub fn new(majority: f64, images: usize) -> ChanceBound {
        let (needed, probability) = smallest_rare_count(images, majority.clamp(0.0, 1.0), FLUKE);
        ChanceBound { majority, images, needed, probability }
    }

    /// From a confusion matrix (rows = true classes).
    pub fn of_confusion(confusion: &[Vec<i64>]) -> ChanceBound {
        let rows: Vec<i64> = confusion.iter().map(|r| r.iter().sum()).collect();
        let total: i64 = rows.iter().sum();
        let majority = rows.iter().copied().max().unwrap_or(0) as f64 / total.max(1) as f64;
        ChanceBound::new(majority, total.max(0) as usize)
    }

    /// The accuracy needed (`needed / images`).
    pub fn accuracy(&self) -> f64 {
        self.needed as f64 / self.images.max(1) as f64
    }

    /// Whether `accuracy` on these images is no better than guessing.
    pub fn at_chance(&self, accuracy: f64) -> bool {
        // Accuracies are counts over `images`: round back to the count they came from.
        ((accuracy * self.images as f64).round() as usize) < self.needed
    }

    /// "at least 617 of 6000 right (guessing does that with probability 0.00094)".
    pub fn describe(&self) -> String {
        if self.images == 0 {
            return "no images to score, so nothing is judged against chance".to_string();
        }
        if self.needed > self.images && self.majority >= 1.0 {
            return format!(
                "one class holds every one of the {} images, so no score beats always guessing it",
                self.images
            );
        }
        if self.needed > self.images {
            return format!(
                "on {} images no score tells learning from a guess: a guess right {:.2}% of the time gets \
                 them all right more often than 1 in 1,000",
                self.images,
                100.0 * self.majority
            );
        }
        format!(
            "chance is beaten at {} of {} right ({:.2}%): a guess that ignores the image, right with the most \
             common class's share ({:.2}%) each time, gets that many with probability {:.2} in 1,000",
            self.needed,
            self.images,
            100.0 * self.accuracy(),
            100.0 * self.majority,
            1000.0 * self.probability
        )
    }
}

/// The smallest k with P(X ≥ k) ≤ `alpha` for X ~ Binomial(n, p), and that probability;
/// (n + 1, 0) where even k = n is too likely.
fn smallest_rare_count(n: usize, p: f64, alpha: f64) -> (usize, f64) {
    let pmf = binomial_pmf(n, p);
    let mut tail = 0.0;
    for k in (0..=n).rev() {
        let with_k = tail + pmf[k];
        if with_k > alpha {
            return (k + 1, tail);
        }
        tail = with_k;
    }
    (0, 1.0)
}

/// P(X = k) for k = 0..=n: each term relative to the mode's by the ratio of neighbours
/// (C(n, k + 1)/C(n, k) = (n − k)/(k + 1)), then normalized. Walking out from the mode keeps the
/// rounding error proportional to the distance walked (the tails that matter lie a few standard
/// deviations out) and never underflows where it matters (0.9⁶⁰⁰⁰⁰ would).
fn binomial_pmf(n: usize, p: f64) -> Vec<f64> {
    if p <= 0.0 || p >= 1.0 {
        let at = if p >= 1.0 { n } else { 0 };
        return (0..=n).map(|k| if k == at { 1.0 } else { 0.0 }).collect();
    }
    let odds = p / (1.0 - p);
    let mode = (((n + 1) as f64 * p).floor() as usize).min(n);
    let mut pmf = vec![0.0; n + 1];
    pmf[mode] = 1.0;
    for k in mode..n {
        pmf[k + 1] = pmf[k] * (n - k) as f64 / (k + 1) as f64 * odds;
    }
    for k in (1..=mode).rev() {
        pmf[k - 1] = pmf[k] * k as f64 / (n - k + 1) as f64 / odds;
    }
    let total: f64 = pmf.iter().sum();
    pmf.iter().map(|v| v / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy's exact values: `/root/.cache/nnopt/reference-venv/bin/python scripts/reference/stats.py`
    /// prints (majority, images, needed, P(X ≥ needed)).
    const SCIPY: &[(f64, usize, usize, f64)] = &[
        (0.1, 10, 6, 0.0001469026),
        (0.1, 60, 15, 0.0006656638480014862),
        (0.1, 100, 21, 0.0008075738743662694),
        (0.1, 500, 73, 0.0007265458984486638),
        (0.1, 6000, 674, 0.0009228941129769236),
        (0.1, 60000, 6229, 0.0009872846803435397),
        (0.2, 10, 7, 0.0008643584000000003),
        (0.2, 60, 23, 0.0008105271116518061),
        (0.2, 100, 34, 0.0007368836015456002),
        (0.2, 500, 129, 0.0009784095400828278),
        (0.2, 6000, 1298, 0.0009067597128398105),
        (0.2, 60000, 12305, 0.0009706654692798113),
        (0.5, 10, 10, 0.0009765625),
        (0.5, 60, 43, 0.0005328828895717177),
        (0.5, 100, 66, 0.0008949651957434264),
        (0.5, 500, 286, 0.0007362287827537559),
        (0.5, 6000, 3121, 0.0009301555628384975),
        (0.5, 60000, 30379, 0.0009991788837070542),
    ];

    #[test]
    fn the_bound_is_scipys_exact_binomial_quantile() {
        for &(p, n, k, tail) in SCIPY {
            let b = ChanceBound::new(p, n);
            assert_eq!(b.needed, k, "p {p}, n {n}");
            assert!((b.probability - tail).abs() <= 1e-9 * tail, "p {p}, n {n}: {b:?} vs {tail}");
            assert!(b.probability <= FLUKE);
        }
    }

    #[test]
    fn the_issue_s_example_is_chance() {
        // 14 of 60 right (23.33 %) with ten balanced classes: guessing does that too often.
        let b = ChanceBound::new(0.1, 60);
        assert!(b.at_chance(14.0 / 60.0), "{b:?}");
        assert!(!b.at_chance(b.accuracy()));
        assert!(b.at_chance((b.needed - 1) as f64 / 60.0));
    }

    #[test]
    fn one_class_is_never_beaten() {
        let b = ChanceBound::new(1.0, 10);
        assert_eq!(b.needed, 11);
        assert!(b.at_chance(1.0));
        assert!(b.describe().contains("no score beats"));
        // Four images of two classes: even 4 of 4 happens to a guess 1 time in 16.
        let few = ChanceBound::new(0.5, 4);
        assert!(few.at_chance(1.0) && few.describe().contains("no score tells learning from a guess"));
        assert!(ChanceBound::new(0.1, 0).describe().contains("no images"));
    }
}

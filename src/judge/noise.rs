//! Whether a difference between two groups of trials is an effect or noise. Two sources of
//! noise are counted, both measured rather than assumed: the *seed* — the same configuration
//! trained again with another seed lands elsewhere (measured by retraining one configuration
//! with other seeds) — and the *validation sample* — n images score a model only to within a
//! binomial √(p(1 − p)/n). A trial's accuracy varies by σ² = s²_seed + p(1 − p)/n; the
//! difference of two group means over m₁ and m₂ trials by σ·√(1/m₁ + 1/m₂). The difference is a
//! real effect at 95 % when its interval, ± t₀.₉₇₅(df)·that, with df the replicates' degrees of
//! freedom, leaves out 0; otherwise it is within noise.

use serde::Serialize;

/// The confidence the intervals are stated at.
pub const CONFIDENCE: f64 = 0.95;

/// One configuration trained with several seeds: the seed-to-seed spread of its accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedNoise {
    /// The seeds' accuracies (the first is the trial's own).
    pub accuracies: Vec<f64>,
    /// Their sample standard deviation.
    pub sd: f64,
    /// Degrees of freedom: replicates − 1 (pooled: summed over the configurations).
    pub df: usize,
    /// The configurations the replicates came from (1: the winner retrained).
    pub configurations: usize,
}

impl SeedNoise {
    /// The spread of `accuracies` (at least two).
    pub fn new(accuracies: Vec<f64>) -> Option<SeedNoise> {
        let n = accuracies.len();
        if n < 2 {
            return None;
        }
        let mean = accuracies.iter().sum::<f64>() / n as f64;
        let sd = (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        Some(SeedNoise { accuracies, sd, df: n - 1, configurations: 1 })
    }

    /// The spread of a grid's replicates: trials grouped by their configuration (`key`, the
    /// values but the seed), each group's trials that trained (`Some` accuracy) pooled. A
    /// replicate that diverged is a failure, not seed noise: it is left out.
    pub fn of_replicates<K: PartialEq>(trials: &[(K, Option<f64>)]) -> Option<SeedNoise> {
        let mut groups: Vec<(&K, Vec<f64>)> = Vec::new();
        for (key, accuracy) in trials {
            let Some(a) = accuracy else { continue };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, scores)) => scores.push(*a),
                None => groups.push((key, vec![*a])),
            }
        }
        SeedNoise::pooled(&groups.into_iter().map(|(_, s)| s).collect::<Vec<_>>())
    }

    /// The spread pooled over several configurations' replicates (each trained from several
    /// seeds): Σ(nᵢ − 1)·sᵢ² / Σ(nᵢ − 1), with Σ(nᵢ − 1) degrees of freedom.
    pub fn pooled(groups: &[Vec<f64>]) -> Option<SeedNoise> {
        let groups: Vec<&Vec<f64>> = groups.iter().filter(|g| g.len() >= 2).collect();
        let df: usize = groups.iter().map(|g| g.len() - 1).sum();
        if df == 0 {
            return None;
        }
        let squares: f64 = groups
            .iter()
            .map(|g| {
                let mean = g.iter().sum::<f64>() / g.len() as f64;
                g.iter().map(|a| (a - mean).powi(2)).sum::<f64>()
            })
            .sum();
        Some(SeedNoise {
            accuracies: groups.iter().flat_map(|g| g.iter().copied()).collect(),
            sd: (squares / df as f64).sqrt(),
            df,
            configurations: groups.len(),
        })
    }
}

/// A difference of two group means with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub difference: f64,
    /// The 95 % interval.
    pub low: f64,
    pub high: f64,
    /// The interval holds 0.
    pub within_noise: bool,
}

/// The interval of `difference` between group means over `m1` and `m2` trials, whose mean
/// accuracy is `p` on `images` validation images, with the seed noise `seed` (binomial only
/// where none was measured: then the normal quantile).
pub fn difference(
    difference: f64,
    m1: usize,
    m2: usize,
    p: f64,
    images: usize,
    seed: Option<&SeedNoise>,
) -> Difference {
    let binomial = p.clamp(0.0, 1.0) * (1.0 - p.clamp(0.0, 1.0)) / images.max(1) as f64;
    let (variance, t) = match seed {
        Some(s) => (s.sd * s.sd + binomial, t_975(s.df)),
        None => (binomial, 1.959_963_984_540_054),
    };
    let half = t * variance.sqrt() * (1.0 / m1.max(1) as f64 + 1.0 / m2.max(1) as f64).sqrt();
    let (low, high) = (difference - half, difference + half);
    // A NaN interval holds nothing: within noise, never an effect.
    Difference { difference, low, high, within_noise: !(low > 0.0 || high < 0.0) }
}

/// A main effect's verdict, from its overall difference and the same difference at each
/// setting of the other hyperparameters (a controlled comparison claims it holds at each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectVerdict {
    /// Beyond noise overall and at every setting of the others, in the same direction.
    Real,
    /// Within noise overall and at every setting of the others.
    WithinNoise,
    /// Beyond noise at some settings of the others only, or in opposite directions: it depends
    /// on them (an interaction), or the noise there is larger than was measured.
    Inconsistent,
}

/// Judges a main effect: `overall` is the best value's mean minus the worst's; `pairs` the
/// same two values' difference at each setting of the other hyperparameters.
pub fn main_effect(overall: &Difference, pairs: &[Difference]) -> EffectVerdict {
    let real = |d: &Difference| !d.within_noise && d.difference.signum() == overall.difference.signum();
    // No setting holds both values: nothing was compared under control.
    if !pairs.is_empty() && !overall.within_noise && pairs.iter().all(real) {
        EffectVerdict::Real
    } else if !pairs.is_empty() && overall.within_noise && pairs.iter().all(|d| d.within_noise) {
        EffectVerdict::WithinNoise
    } else {
        EffectVerdict::Inconsistent
    }
}

/// Student's t quantile at 0.975 (scipy's `t.ppf(0.975, df)`, `scripts/reference/stats.py`);
/// between the tabled degrees of freedom, the next lower one's (a wider interval, never a
/// narrower one).
pub fn t_975(df: usize) -> f64 {
    const TABLE: [(usize, f64); 12] = [
        (1, 12.706204736174694),
        (2, 4.302652729749462),
        (3, 3.1824463052837078),
        (4, 2.7764451051977934),
        (5, 2.5705818356363146),
        (6, 2.4469118511449786),
        (7, 2.364624251592784),
        (8, 2.306004135204166),
        (9, 2.262157162798205),
        (10, 2.228138851986274),
        (20, 2.085963447265864),
        (30, 2.0422724563012378),
    ];
    TABLE.iter().rev().find(|(d, _)| *d <= df.max(1)).map_or(TABLE[0].1, |(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_noise_widens_the_interval_past_a_small_effect() {
        // The replicates of one configuration: 75.0, 75.0, 77.6 %.
        let seed = SeedNoise::new(vec![0.750, 0.750, 0.776]).unwrap();
        assert_eq!(seed.df, 2);
        assert!((seed.sd - 0.015011106998930273).abs() < 1e-12, "{seed:?}");
        // Two widths, each the mean of two trials, 5.6 points apart on 6000 images.
        let d = difference(0.056, 2, 2, 0.75, 6000, Some(&seed));
        assert!(d.within_noise, "{d:?}");
        // Binomial noise alone would call it an effect.
        assert!(!difference(0.056, 2, 2, 0.75, 6000, None).within_noise);
        // A 60-point gap (a rate that diverged) is an effect either way.
        assert!(!difference(0.6, 2, 2, 0.5, 6000, Some(&seed)).within_noise);
    }

    #[test]
    fn an_effect_that_holds_at_one_setting_only_is_not_called_real() {
        let d = |x: f64| difference(x, 1, 1, 0.5, 6000, None);
        let overall = difference(0.056, 2, 2, 0.5, 6000, None);
        // The seed 0: +0.9 points at lr 0.001, +12 at lr 0.3.
        assert_eq!(main_effect(&overall, &[d(0.009), d(0.12)]), EffectVerdict::Inconsistent);
        assert_eq!(main_effect(&d(0.58), &[d(0.52), d(0.65)]), EffectVerdict::Real);
        assert_eq!(main_effect(&d(0.001), &[d(0.002), d(-0.001)]), EffectVerdict::WithinNoise);
        assert_eq!(main_effect(&d(0.3), &[d(0.7), d(-0.1)]), EffectVerdict::Inconsistent, "opposite signs");
        assert_eq!(main_effect(&d(0.58), &[]), EffectVerdict::Inconsistent, "nothing compared under control");
        assert!(d(f64::NAN).within_noise, "NaN is no effect");
    }

    #[test]
    fn the_t_quantiles_are_scipys_and_never_narrower_between() {
        assert_eq!(t_975(2), 4.302652729749462);
        assert_eq!(t_975(15), t_975(10));
        assert_eq!(t_975(1000), 2.0422724563012378);
        assert!(SeedNoise::new(vec![0.5]).is_none());
        // Pooled: two configurations of three seeds each, 4 degrees of freedom.
        let p = SeedNoise::pooled(&[vec![0.1, 0.2, 0.3], vec![0.5, 0.5, 0.5]]).unwrap();
        assert_eq!((p.df, p.configurations), (4, 2));
        assert!((p.sd - (0.02f64 / 4.0).sqrt()).abs() < 1e-12, "{p:?}");
    }
}

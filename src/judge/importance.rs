//! Which hyperparameter matters, from observational trials, by ranks: each hyperparameter's
//! trials are grouped by its value (a range's values into equal-count bins), and the
//! Kruskal–Wallis test asks whether the groups' accuracies differ by more than a shuffle of
//! the same trials would. Ranks express a cliff — one learning rate where every network
//! collapses — that a quadratic model smooths away, and the test gives each hyperparameter a
//! p-value: an effect is called clear at p < 0.05, and its size is the ε² of the ranks (the
//! share of their variance the groups explain, 0–1).
//!
//! Each hyperparameter is judged alone, its trials' other values varying within its groups:
//! an estimate from observational trials, not a controlled comparison.

use serde::Serialize;

/// The level at which an effect is called clear.
pub const CLEAR: f64 = 0.05;

/// One hyperparameter's rank test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankEffect {
    /// Kruskal–Wallis H, tie-corrected.
    pub statistic: f64,
    pub groups: usize,
    pub p_value: f64,
    /// ε² = H/(n − 1): the share of the ranks' variance between the groups.
    pub size: f64,
    pub clear: bool,
}

/// The groups a hyperparameter's trials fall into: `values` are each trial's value (a list's
/// choice as its index, `None` where the trial does not use it). A range is cut into
/// equal-count bins, about √n of them, from 2 to 5; a list groups by choice.
pub fn groups(values: &[Option<f64>], scores: &[f64], range: bool) -> Vec<Vec<f64>> {
    let mut used: Vec<(f64, f64)> =
        values.iter().zip(scores).filter_map(|(v, s)| v.map(|v| (v, *s))).collect();
    used.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !range {
        let mut out: Vec<(f64, Vec<f64>)> = Vec::new();
        for (v, s) in used {
            match out.last_mut() {
                Some((last, g)) if *last == v => g.push(s),
                _ => out.push((v, vec![s])),
            }
        }
        return out.into_iter().map(|(_, g)| g).collect();
    }
    let n = used.len();
    let bins = ((n as f64).sqrt().round() as usize).clamp(2, 5).min(n.max(1));
    (0..bins).map(|b| used[b * n / bins..(b + 1) * n / bins].iter().map(|p| p.1).collect()).collect()
}

/// The Kruskal–Wallis test over `groups` (at least two non-empty, five values in all); `None`
/// where it cannot be computed.
pub fn kruskal(groups: &[Vec<f64>]) -> Option<RankEffect> {
    let groups: Vec<&Vec<f64>> = groups.iter().filter(|g| !g.is_empty()).collect();
    let mut all: Vec<(f64, usize)> =
        groups.iter().enumerate().flat_map(|(i, g)| g.iter().map(move |&v| (v, i))).collect();
    let n = all.len();
    if groups.len() < 2 || n < 5 {
        return None;
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mid-ranks for ties, and the tie correction 1 − Σ(t³ − t)/(n³ − n).
    let mut rank_sums = vec![0.0; groups.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let j = (i..n).find(|&j| all[j].0 != all[i].0).unwrap_or(n);
        let rank = (i + j + 1) as f64 / 2.0;
        for item in &all[i..j] {
            rank_sums[item.1] += rank;
        }
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let nf = n as f64;
    let h = 12.0 / (nf * (nf + 1.0))
        * groups.iter().zip(&rank_sums).map(|(g, r)| r * r / g.len() as f64).sum::<f64>()
        - 3.0 * (nf + 1.0);
    let correction = 1.0 - ties / (nf * nf * nf - nf);
    if correction <= 0.0 {
        // Every score equal: the groups cannot differ.
        return Some(RankEffect {
            statistic: 0.0,
            groups: groups.len(),
            p_value: 1.0,
            size: 0.0,
            clear: false,
        });
    }
    let statistic = (h / correction).max(0.0);
    let p_value = chi_squared_sf(statistic, (groups.len() - 1) as f64);
    Some(RankEffect {
        statistic,
        groups: groups.len(),
        p_value,
        size: (statistic / (nf - 1.0)).min(1.0),
        clear: p_value < CLEAR,
    })
}

/// P(χ²_df > x): the regularized upper incomplete gamma Q(df/2, x/2), by its series below
/// a + 1 and its continued fraction above (Numerical Recipes' `gammq`).
pub fn chi_squared_sf(x: f64, df: f64) -> f64 {
    let (a, x) = (df / 2.0, x / 2.0);
    if x <= 0.0 {
        return 1.0;
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        1.0 - sum * log_prefix.exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let (mut c, mut d) = (1.0 / tiny, 1.0 / b);
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            d = if d.abs() < tiny { tiny } else { d };
            c = b + an / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        log_prefix.exp() * h
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 digits). Also the d-ball's volume in
/// `brute-force`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..].iter().enumerate().fold(G[0], |s, (i, g)| s + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy's values: `/root/.cache/nnopt/reference-venv/bin/python scripts/reference/stats.py`.
    #[test]
    fn the_test_is_scipys_kruskal() {
        let a = [vec![0.81, 0.79, 0.84], vec![0.70, 0.72, 0.69, 0.71], vec![0.50, 0.55]];
        let k = kruskal(&a).unwrap();
        assert!((k.statistic - 7.0).abs() < 1e-12 && (k.p_value - 0.0301973834223185).abs() < 1e-12, "{k:?}");
        let b = [vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0, 4.0]];
        let k = kruskal(&b).unwrap();
        assert!(k.statistic.abs() < 1e-12 && (k.p_value - 1.0).abs() < 1e-12, "{k:?}");
        let c = [vec![0.1, 0.2, 0.2, 0.3], vec![0.2, 0.3, 0.4], vec![0.9, 0.8, 0.85], vec![0.0, 0.1]];
        let k = kruskal(&c).unwrap();
        assert!((k.statistic - 9.130654761904767).abs() < 1e-9, "{k:?}");
        assert!((k.p_value - 0.027603263391877336).abs() < 1e-12, "{k:?}");
        for (x, df, p) in [
            (3.84, 1.0, 0.05004352124870519),
            (5.99, 2.0, 0.05003662708658629),
            (0.5, 3.0, 0.9188914116546758),
            (12.0, 4.0, 0.01735126523666451),
            (20.0, 7.0, 0.005569683072945574),
        ] {
            assert!((chi_squared_sf(x, df) - p).abs() < 1e-12, "χ²({df}) > {x}");
        }
    }

    /// Planted effects: one that matters smoothly, one that does not, one cliff.
    #[test]
    fn a_cliff_and_a_slope_are_clear_and_noise_is_not() {
        for n in [16, 24] {
            planted(n);
        }
    }

    /// Sixteen trials rank the slope-and-cliff above the noise; twenty-four also call it clear.
    fn planted(n: usize) {
        let lr: Vec<f64> = (0..n).map(|i| 0.001 * 300f64.powf(i as f64 / (n - 1) as f64)).collect();
        let hidden: Vec<f64> = (0..n).map(|i| [32.0, 33.0][(i * 7 + i / 3) % 2]).collect();
        // Accuracy climbs with lr, then falls off a cliff at the largest rate; width adds noise only.
        let accuracy: Vec<f64> = (0..n)
            .map(
                |i| if i == n - 1 { 0.1 } else { 0.5 + 0.02 * i as f64 + 0.004 * ((i * 5 % 3) as f64 - 1.0) },
            )
            .collect();
        let on = |v: &[f64]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        let lr_effect = kruskal(&groups(&on(&lr), &accuracy, true)).unwrap();
        let hidden_effect = kruskal(&groups(&on(&hidden), &accuracy, false)).unwrap();
        assert!(lr_effect.size > 5.0 * hidden_effect.size, "{lr_effect:?} {hidden_effect:?}");
        assert!(!hidden_effect.clear, "{hidden_effect:?}");
        assert!(lr_effect.clear || n < 20, "{lr_effect:?}");
        // A pure cliff: nothing but the last bin differs.
        let cliff: Vec<f64> =
            (0..n).map(|i| if i >= n - n / 4 { 0.1 } else { 0.8 + 1e-3 * (i % 2) as f64 }).collect();
        let k = kruskal(&groups(&on(&lr), &cliff, true)).unwrap();
        assert!(k.clear, "{n}: {k:?}");
    }
}

//! The Tree-structured Parzen Estimator, in two forms:
//!
//! - **independent** (hyperopt's and optuna's original form): one estimator per
//!   hyperparameter, from the [`tpe`](https://crates.io/crates/tpe) crate. Each value is drawn
//!   where good trials are denser than poor ones *for that hyperparameter alone*.
//! - **multivariate** (optuna 5's default, `TPESampler(multivariate=True)`): one joint estimator.
//!   Each good trial is a kernel over all hyperparameters at once (a product of a Gaussian per
//!   range, in its log scale for `:log`, and a smoothed histogram per list); candidates are drawn
//!   from whole kernels, so values that worked *together* are proposed together, and the one
//!   with the highest l(x)/g(x) is asked. Bandwidths follow optuna: Scott's rule
//!   0.2·n^(−1/(d+4))·(high − low), clipped below at (high − low)/min(100, n + 1), with a prior
//!   kernel (the whole range) of weight 1; γ(n) = min(⌈0.1·n⌉, 25) trials are "good".
//!
//! Both minimize 1 − validation accuracy; a failed trial counts as accuracy 0. A value the trial
//! did not use (Adam's momentum) is told as missing and marginalized out.

use anyhow::{anyhow, Result};
use rand::rngs::StdRng;
use rand::RngExt;

use super::space::{scale_bounds, Config, Domain, Param, Space};
use crate::train::TrainConfig;

/// Candidates scored per ask (optuna's `n_ei_candidates`).
const CANDIDATES: usize = 24;

/// One hyperparameter as TPE sees it: a continuous interval on its own scale, or categories.
#[derive(Debug, Clone, Copy)]
enum Axis {
    Interval { a: f64, b: f64, log: bool, int: bool, lo: f64, hi: f64 },
    Categories(usize),
}

fn axes(space: &Space) -> Vec<Axis> {
    space
        .dims
        .iter()
        .map(|(_, d)| match *d {
            Domain::Range { lo, hi, log, int } => {
                let (a, b) = scale_bounds(lo, hi, log, int);
                Axis::Interval { a, b, log, int, lo, hi }
            }
            ref list => Axis::Categories(list.values(1).len()),
        })
        .collect()
}

/// A configuration on TPE's scales: the scaled number or the category's index; NaN where unused.
fn encode(space: &Space, config: &Config) -> Vec<f64> {
    space
        .dims
        .iter()
        .zip(&config.0)
        .zip(axes(space))
        .map(|(((_, domain), (_, value)), axis)| match (axis, value) {
            (_, Param::Unused) => f64::NAN,
            (Axis::Interval { a, b, log, .. }, v) => {
                let x = v.number().unwrap_or(a);
                let t = if log { x.ln() } else { x };
                // Inside the half-open interval: a range's own upper end is told just below it.
                t.clamp(a, b - (b - a) * 1e-12)
            }
            (Axis::Categories(_), v) => domain.values(1).iter().position(|c| c == v).unwrap_or(0) as f64,
        })
        .collect()
}

/// The configuration at a point of TPE's scales.
fn decode(space: &Space, x: &[f64], base: &TrainConfig) -> Config {
    let values = space.dims.iter().zip(x).zip(axes(space)).map(|(((name, domain), &t), axis)| {
        let value = match axis {
            Axis::Interval { log, int, lo, hi, .. } => {
                let v = if log { t.exp() } else { t };
                if int {
                    Param::Int(v.floor().clamp(lo, hi) as i64)
                } else {
                    Param::Float(v.clamp(lo, hi))
                }
            }
            Axis::Categories(k) => domain.values(1)[(t.max(0.0) as usize).min(k - 1)].clone(),
        };
        (*name, value)
    });
    Config(values.collect()).normalized(base)
}

/// The form of TPE (`--tpe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TpeForm {
    Multivariate,
    Independent,
}

/// TPE over a space, after the random start-up trials the sweep draws itself.
pub struct Tpe {
    form: TpeForm,
    space: Space,
    base: TrainConfig,
    /// (point on TPE's scales, loss) of every trial told.
    history: Vec<(Vec<f64>, f64)>,
    /// Points proposed and not yet told (a batch training together): while they train, they
    /// count as trials that failed (loss 1), so the next proposal of the batch goes elsewhere —
    /// optuna's "constant liar" for parallel TPE. Multivariate form only.
    pending: Vec<Vec<f64>>,
    independent: Vec<tpe::TpeOptimizer>,
}

impl Tpe {
    pub fn new(form: TpeForm, space: &Space, base: &TrainConfig) -> Result<Self> {
        let independent = axes(space)
            .into_iter()
            .map(|axis| {
                let built = match axis {
                    Axis::Interval { a, b, .. } => {
                        tpe::range(a, b).map(|r| tpe::TpeOptimizer::new(tpe::parzen_estimator(), r))
                    }
                    Axis::Categories(k) => tpe::categorical_range(k)
                        .map(|r| tpe::TpeOptimizer::new(tpe::histogram_estimator(), r)),
                };
                built.map_err(|e| anyhow!("tpe: {e}"))
            })
            .collect::<Result<_>>()?;
        Ok(Tpe {
            form,
            space: space.clone(),
            base: base.clone(),
            history: Vec::new(),
            pending: Vec::new(),
            independent,
        })
    }

    /// The next configuration TPE proposes.
    pub fn ask(&mut self, rng: &mut StdRng) -> Result<Config> {
        let x = match self.form {
            TpeForm::Independent => self
                .independent
                .iter_mut()
                .map(|o| o.ask(&mut *rng).map_err(|e| anyhow!("tpe: {e}")))
                .collect::<Result<Vec<f64>>>()?,
            TpeForm::Multivariate => self.ask_joint(rng),
        };
        let config = decode(&self.space, &x, &self.base);
        if self.form == TpeForm::Multivariate {
            self.pending.push(encode(&self.space, &config));
        }
        Ok(config)
    }

    /// How many proposals may train at once: `batch` in the multivariate form (the ones not yet
    /// told count as failures meanwhile); 1 in the independent form, whose per-axis models
    /// cannot take a provisional result back.
    pub fn batch(&self, batch: usize) -> usize {
        match self.form {
            TpeForm::Multivariate => batch.max(1),
            TpeForm::Independent => 1,
        }
    }

    /// Feeds a finished trial back: its configuration and validation accuracy (None: failed).
    pub fn tell(&mut self, config: &Config, accuracy: Option<f64>) -> Result<()> {
        let loss = 1.0 - accuracy.unwrap_or(0.0);
        let x = encode(&self.space, config);
        // Bit for bit: an unused hyperparameter is NaN on both sides.
        let same = |p: &Vec<f64>| p.iter().zip(&x).all(|(a, b)| a.to_bits() == b.to_bits());
        if let Some(at) = self.pending.iter().position(same) {
            self.pending.remove(at);
        }
        for (o, &v) in self.independent.iter_mut().zip(&x) {
            o.tell(v, loss).map_err(|e| anyhow!("tpe: {e}"))?;
        }
        self.history.push((x, loss));
        Ok(())
    }

    /// The good and the poor points: the best γ(n) of the n results told, and the rest with
    /// every proposal still training (the constant liar: as optuna does, running trials are left
    /// out of n and always count among the poor, so they push the next proposals away however
    /// many there are).
    fn groups(&self) -> (Vec<&[f64]>, Vec<&[f64]>) {
        let mut sorted: Vec<&(Vec<f64>, f64)> = self.history.iter().collect();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_good = gamma(sorted.len()).min(sorted.len());
        let good = sorted[..n_good].iter().map(|(x, _)| x.as_slice()).collect();
        let poor = sorted[n_good..]
            .iter()
            .map(|(x, _)| x.as_slice())
            .chain(self.pending.iter().map(Vec::as_slice))
            .collect();
        (good, poor)
    }

    fn ask_joint(&self, rng: &mut StdRng) -> Vec<f64> {
        let axes = axes(&self.space);
        let (good, poor) = self.groups();
        let (l, g) = (Parzen::new(&axes, &good), Parzen::new(&axes, &poor));
        let mut best = (f64::NEG_INFINITY, l.sample(rng));
        for _ in 0..CANDIDATES {
            let x = l.sample(rng);
            // Scored as the trial would run it: a value its optimizer ignores is left out.
            let mut used = x.clone();
            let config = decode(&self.space, &x, &self.base);
            for (u, (_, v)) in used.iter_mut().zip(&config.0) {
                if *v == Param::Unused {
                    *u = f64::NAN;
                }
            }
            let score = l.log_density(&used) - g.log_density(&used);
            if score > best.0 {
                best = (score, x);
            }
        }
        best.1
    }
}

/// How many of `n` trials count as good: optuna's default γ.
pub fn gamma(n: usize) -> usize {
    (n as f64 * 0.1).ceil().min(25.0) as usize
}

/// A joint Parzen estimator: one kernel per observation plus a prior kernel.
struct Parzen<'a> {
    axes: &'a [Axis],
    points: Vec<Vec<f64>>,
    /// Per axis, the bandwidth of every observation's kernel.
    sigma: Vec<f64>,
}

impl<'a> Parzen<'a> {
    fn new(axes: &'a [Axis], points: &[&[f64]]) -> Self {
        let n = points.len();
        let d = axes.len() as f64;
        let sigma = axes
            .iter()
            .map(|axis| match *axis {
                Axis::Interval { a, b, .. } => {
                    let scott = 0.2 * (n.max(1) as f64).powf(-1.0 / (d + 4.0)) * (b - a);
                    scott.max((b - a) / (n as f64 + 1.0).min(100.0))
                }
                Axis::Categories(_) => 0.0,
            })
            .collect();
        Parzen { axes, points: points.iter().map(|p| p.to_vec()).collect(), sigma }
    }

    /// Kernel `k` (the last is the prior) on axis `i` at `x` (density, or probability of a category).
    fn kernel(&self, k: usize, i: usize, x: f64) -> f64 {
        let centre = self.points.get(k).map(|p| p[i]).filter(|c| !c.is_nan());
        match self.axes[i] {
            Axis::Interval { a, b, .. } => {
                let (mu, sigma) = match centre {
                    Some(c) => (c, self.sigma[i]),
                    None => (0.5 * (a + b), b - a),
                };
                truncated_normal_pdf(x, mu, sigma, a, b)
            }
            Axis::Categories(k_count) => {
                let k_count = k_count as f64;
                match centre {
                    // The observed category, smoothed by a prior of weight 1 spread evenly.
                    Some(c) => (if (x - c).abs() < 0.5 { 1.0 } else { 0.0 } + 1.0 / k_count) / 2.0,
                    None => 1.0 / k_count,
                }
            }
        }
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        let components = self.points.len() + 1;
        let total: f64 = (0..components)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_nan())
                    .map(|(i, &v)| self.kernel(k, i, v))
                    .product::<f64>()
            })
            .sum();
        (total / components as f64).max(f64::MIN_POSITIVE).ln()
    }

    /// A point drawn from one whole kernel (the same observation on every axis).
    fn sample(&self, rng: &mut StdRng) -> Vec<f64> {
        let k = rng.random_range(0..=self.points.len());
        (0..self.axes.len())
            .map(|i| {
                let centre = self.points.get(k).map(|p| p[i]).filter(|c| !c.is_nan());
                match self.axes[i] {
                    Axis::Interval { a, b, .. } => match centre {
                        Some(c) => truncated_normal_sample(rng, c, self.sigma[i], a, b),
                        None => a + rng.random::<f64>() * (b - a),
                    },
                    Axis::Categories(count) => match centre {
                        Some(c) if rng.random::<f64>() < 0.5 => c,
                        _ => rng.random_range(0..count) as f64,
                    },
                }
            })
            .collect()
    }
}

/// The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly =
        t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 {
        -y
    } else {
        y
    }
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// The normal density N(mu, sigma²) restricted to [a, b] and renormalized there.
pub fn truncated_normal_pdf(x: f64, mu: f64, sigma: f64, a: f64, b: f64) -> f64 {
    if x < a || x > b {
        return 0.0;
    }
    let z = (x - mu) / sigma;
    let mass = (normal_cdf((b - mu) / sigma) - normal_cdf((a - mu) / sigma)).max(1e-300);
    (-0.5 * z * z).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt()) / mass
}

/// A draw from N(mu, sigma²) restricted to [a, b): rejection, then a uniform fallback.
fn truncated_normal_sample(rng: &mut StdRng, mu: f64, sigma: f64, a: f64, b: f64) -> f64 {
    for _ in 0..100 {
        // Box–Muller.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
        let x = mu + sigma * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        if x >= a && x < b {
            return x;
        }
    }
    a + rng.random::<f64>() * (b - a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gamma_is_optuna_s() {
        assert_eq!((gamma(1), gamma(10), gamma(11), gamma(300)), (1, 1, 2, 25));
    }

    #[test]
    fn the_truncated_density_integrates_to_one() {
        let (a, b) = (0.0, 1.0);
        let n = 10_000;
        let integral: f64 = (0..n)
            .map(|i| truncated_normal_pdf(a + (i as f64 + 0.5) / n as f64, 0.9, 0.3, a, b))
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
    }

    #[test]
    fn multivariate_tpe_proposes_where_good_trials_were_together() {
        // Accuracy is high only where lr ≈ 0.1 AND hidden = 64: a joint optimum.
        let mut space = Space::default();
        space.add("lr", "0.001..1:log").unwrap();
        space.add("hidden", "16,64").unwrap();
        let base = TrainConfig::default();
        let mut tpe = Tpe::new(TpeForm::Multivariate, &space, &base).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let score = |c: &Config| {
            let lr = c.get("lr").and_then(Param::number).unwrap();
            let wide = c.get("hidden") == Some(&Param::Hidden(vec![64]));
            if wide {
                0.9 - 0.1 * (lr.log10() + 1.0).abs()
            } else {
                0.3
            }
        };
        for _ in 0..20 {
            let c = space.sample(&mut rng, &base);
            tpe.tell(&c, Some(score(&c))).unwrap();
        }
        // Each proposal from the same 20 results (no batch: nothing pending between them).
        let asked: Vec<Config> = (0..20)
            .map(|_| {
                let c = tpe.ask(&mut rng).unwrap();
                tpe.pending.clear();
                c
            })
            .collect();
        let good = asked.iter().filter(|c| score(c) > 0.8).count();
        assert!(good >= 12, "TPE proposed {good}/20 near the joint optimum");
    }

    /// A batch of proposals (the constant liar): each one still training counts as a failure,
    /// so the next proposal of the batch moves away from it; telling its result takes the lie
    /// back. The independent form, whose models cannot take a result back, proposes one at a time.
    #[test]
    fn a_batch_of_proposals_spreads_out_while_it_trains() {
        let mut space = Space::default();
        space.add("lr", "0.001..1:log").unwrap();
        let base = TrainConfig::default();
        let lr = |c: &Config| c.get("lr").and_then(Param::number).unwrap().log10();
        // Good results around lr = 0.01 (log10 = -2).
        let history = |tpe: &mut Tpe| {
            for (i, x) in (0..8).map(|i| (i, -3.0 + 3.0 * i as f64 / 7.0)) {
                let c = decode(&space, &[x * std::f64::consts::LN_10], &base);
                tpe.tell(&c, Some(0.9 - 0.2 * (x + 2.0).abs() - 0.001 * i as f64)).unwrap();
            }
        };
        let (mut farther, mut nearer) = (0, 0);
        for seed in 0..20 {
            // The same proposal first, then the second of a batch (with the first pending) and
            // the same draw without it (the first told nothing, its lie withdrawn).
            let mut batch = Tpe::new(TpeForm::Multivariate, &space, &base).unwrap();
            let mut alone = Tpe::new(TpeForm::Multivariate, &space, &base).unwrap();
            history(&mut batch);
            history(&mut alone);
            let (mut rng_a, mut rng_b) = (StdRng::seed_from_u64(seed), StdRng::seed_from_u64(seed));
            let first = batch.ask(&mut rng_a).unwrap();
            assert_eq!(alone.ask(&mut rng_b).unwrap(), first);
            assert_eq!(batch.pending.len(), 1);
            alone.pending.clear();
            let (second, unbatched) = (batch.ask(&mut rng_a).unwrap(), alone.ask(&mut rng_b).unwrap());
            let (d_batch, d_alone) = ((lr(&second) - lr(&first)).abs(), (lr(&unbatched) - lr(&first)).abs());
            farther += usize::from(d_batch > d_alone + 1e-9);
            nearer += usize::from(d_batch + 1e-9 < d_alone);
            batch.tell(&first, Some(0.5)).unwrap();
            assert_eq!(batch.pending.len(), 1, "told: its lie is gone, the second's stays");
        }
        assert!(
            farther >= 10 && farther > 3 * nearer,
            "the batch's second proposal moved away {farther}/20 times, nearer {nearer}"
        );
        // However many proposals are pending, the good group is the best of the results told.
        let mut crowded = Tpe::new(TpeForm::Multivariate, &space, &base).unwrap();
        for (i, x) in [-2.0, -1.0, -3.0, 0.0].iter().enumerate() {
            let c = decode(&space, &[x * std::f64::consts::LN_10], &base);
            crowded.tell(&c, Some(0.9 - 0.1 * i as f64)).unwrap();
        }
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..60 {
            crowded.ask(&mut rng).unwrap();
        }
        let (good, poor) = crowded.groups();
        assert_eq!((good.len(), poor.len()), (gamma(4), 4 - gamma(4) + 60));
        assert_eq!(good[0], &[-2.0 * std::f64::consts::LN_10][..], "the best result, not a pending proposal");
        let independent = Tpe::new(TpeForm::Independent, &space, &base).unwrap();
        assert_eq!(
            (independent.batch(8), Tpe::new(TpeForm::Multivariate, &space, &base).unwrap().batch(8)),
            (1, 8)
        );
    }
}

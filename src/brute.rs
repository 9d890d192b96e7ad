//! `nnopt brute-force`: the notebook's claim that brute force "is not viable", measured. On a
//! quadratic bowl of d dimensions, f(x) = Σ (xᵢ − cᵢ)² on [−5, 5]ᵈ with its minimum c drawn from
//! the seed, three searches try to come within a tolerance ε of the minimum's value:
//! - a grid fine enough to be sure to (k points per dimension, kᵈ in all),
//! - random search (uniform draws, the best kept),
//! - gradient descent (x ← x − lr·∇f from a random start).
//!
//! Each is run, counting evaluations, up to a cap; past the cap the count is computed — the
//! grid's kᵈ, random search's expected 1/p (p: the chance one draw lands close enough, from the
//! volume of a d-ball) — and labelled as computed. Pure arithmetic in float64: no libtorch,
//! nothing drawn from its generator.

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::error::ensure_usage;
use crate::judge::brute::Searched;

/// The domain's half-width: each coordinate lies in [−5, 5].
pub const HALF_WIDTH: f64 = 5.0;
/// Gradient descent's learning rate: on f = Σ (xᵢ − cᵢ)² each step multiplies the distance to
/// the minimum by 1 − 2·lr = 0.8.
pub const LR: f64 = 0.1;
/// The most dimensions a run may ask for.
pub const MAX_DIMS: usize = 10_000;
/// The most evaluations a search may run for real.
pub const MAX_CAP: u64 = 100_000_000;
/// The smallest `--tolerance`.
pub const MIN_TOLERANCE: f64 = 1e-12;

/// The settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BruteConfig {
    pub dims: Vec<usize>,
    /// Evaluations a search may run; past it, counts are computed.
    pub cap: u64,
    /// How close to the minimum's value counts as found: f(x) − f(c) ≤ ε.
    pub tolerance: f64,
    pub seed: u64,
}

impl Default for BruteConfig {
    fn default() -> Self {
        BruteConfig { dims: vec![1, 2, 10, 100], cap: 1_000_000, tolerance: 0.01, seed: 0 }
    }
}

impl BruteConfig {
    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        ensure_usage(!self.dims.is_empty(), || "--dims needs at least one dimension count".to_string())?;
        for &d in &self.dims {
            ensure_usage((1..=MAX_DIMS).contains(&d), || {
                format!("--dims must be between 1 and {MAX_DIMS}, got {d}")
            })?;
        }
        ensure_usage((1..=MAX_CAP).contains(&self.cap), || {
            format!("--cap must be between 1 and {MAX_CAP}, got {}", self.cap)
        })?;
        for (i, d) in self.dims.iter().enumerate() {
            ensure_usage(!self.dims[..i].contains(d), || format!("--dims lists {d} twice; give each once"))?;
        }
        // Below 1e-12 the grid's points per dimension pass 10⁶·√d: counts that say nothing more.
        ensure_usage(self.tolerance.is_finite() && (MIN_TOLERANCE..1.0).contains(&self.tolerance), || {
            format!("--tolerance must be at least {MIN_TOLERANCE:e} and below 1, got {:e}", self.tolerance)
        })
    }
}

/// How many evaluations a search took, or would take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Count {
    /// Run and counted: it came within ε after this many evaluations.
    Measured { evaluations: u64 },
    /// Run up to the cap without coming within ε; the count the arithmetic gives, as log₁₀
    /// (null where there is none).
    Capped { cap: u64, log10_computed: Option<f64> },
    /// Not run (the count is far past the cap); computed, as log₁₀ (10¹⁰⁰⁰ overflows a float).
    Computed { log10_evaluations: f64 },
}

impl Count {
    /// log₁₀ of the evaluations, measured or computed (none for a capped run with no formula).
    pub fn log10(&self) -> Option<f64> {
        match *self {
            Count::Measured { evaluations } => Some((evaluations as f64).log10()),
            Count::Capped { log10_computed, .. } => log10_computed,
            Count::Computed { log10_evaluations } => Some(log10_evaluations),
        }
    }
    pub fn measured(&self) -> bool {
        matches!(self, Count::Measured { .. })
    }
    /// What the judge reads.
    fn searched(&self) -> Searched {
        Searched { within_cap: self.measured(), log10_evaluations: self.log10() }
    }
}

/// One dimension count's three searches.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub dims: usize,
    /// Grid points per dimension that guarantee one within ε.
    pub grid_points_per_dim: u64,
    pub grid: Count,
    pub random: Count,
    /// Gradient evaluations (one per step).
    pub gradient_descent: Count,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct BruteReport {
    pub tolerance: f64,
    pub cap: u64,
    pub seed: u64,
    pub lr: f64,
    pub rows: Vec<Row>,
    /// What the rows show ([`crate::judge::brute`]).
    pub verdict: crate::judge::brute::Verdict,
}

/// Runs the three searches at every dimension count.
pub fn run(config: &BruteConfig) -> Result<BruteReport> {
    config.validate()?;
    let rows = config.dims.iter().map(|&d| row(d, config)).collect::<Vec<_>>();
    let read: Vec<_> = rows
        .iter()
        .map(|r| (r.dims, [r.grid.searched(), r.random.searched(), r.gradient_descent.searched()]))
        .collect();
    let verdict = crate::judge::brute::verdict(&read, config.cap);
    Ok(BruteReport { tolerance: config.tolerance, cap: config.cap, seed: config.seed, lr: LR, rows, verdict })
}

fn row(d: usize, config: &BruteConfig) -> Row {
    // One stream per purpose, so what one search draws (or, past the cap, does not) never moves
    // another's: the minimum, random search's draws, descent's start.
    let stream = |purpose: u64| {
        StdRng::seed_from_u64(
            config.seed ^ (d as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.rotate_left(48),
        )
    };
    // The minimum, away from the edges.
    let mut minimum = stream(1);
    let centre: Vec<f64> = (0..d).map(|_| minimum.random_range(-4.0..4.0)).collect();
    let eps = config.tolerance;
    let k = grid_points_per_dim(d, eps);
    Row {
        dims: d,
        grid_points_per_dim: k,
        grid: grid_search(&centre, k, eps, config.cap),
        random: random_search(&centre, eps, config.cap, &mut stream(2)),
        gradient_descent: gradient_descent(&centre, eps, config.cap, &mut stream(3)),
    }
}

/// f(x) − f(c) = Σ (xᵢ − cᵢ)².
fn excess(x: &[f64], centre: &[f64]) -> f64 {
    x.iter().zip(centre).map(|(x, c)| (x - c) * (x - c)).sum()
}

/// Points per dimension of a grid over [−5, 5] whose nearest point to any minimum is within ε:
/// spacing h with d·(h/2)² ≤ ε, so h = 2√(ε/d) and k = ⌈10/h⌉ + 1.
pub fn grid_points_per_dim(d: usize, eps: f64) -> u64 {
    let h = 2.0 * (eps / d as f64).sqrt();
    (2.0 * HALF_WIDTH / h).ceil() as u64 + 1
}

/// A grid search evaluates every one of its kᵈ points and keeps the best — it cannot know it
/// has found the minimum before it has seen them all — so its count is kᵈ: run (and its best
/// checked to be within ε) where that fits the cap, else computed.
fn grid_search(centre: &[f64], k: u64, eps: f64, cap: u64) -> Count {
    let d = centre.len();
    let log10_total = d as f64 * (k as f64).log10();
    if log10_total > (cap as f64).log10() {
        return Count::Computed { log10_evaluations: log10_total };
    }
    let total = (k as f64).powi(d as i32);
    let step = 2.0 * HALF_WIDTH / (k - 1) as f64;
    let mut index = vec![0u64; d];
    let mut x = vec![-HALF_WIDTH; d];
    let mut best = f64::INFINITY;
    for _ in 0..total as u64 {
        best = best.min(excess(&x, centre));
        // The next point, like an odometer.
        for i in 0..d {
            index[i] += 1;
            if index[i] < k {
                x[i] = -HALF_WIDTH + index[i] as f64 * step;
                break;
            }
            index[i] = 0;
            x[i] = -HALF_WIDTH;
        }
    }
    // The spacing guarantees a point within ε; a best outside it would be a bug in the arithmetic.
    match best <= eps {
        true => Count::Measured { evaluations: total as u64 },
        false => Count::Capped { cap: total as u64, log10_computed: Some(log10_total) },
    }
}

/// The chance that one uniform draw in [−5, 5]ᵈ lands within ε of the minimum's value: the
/// volume of the d-ball of radius √ε over 10ᵈ.
pub fn hit_probability(d: usize, eps: f64) -> f64 {
    ln_hit_probability(d, eps).exp()
}

/// Its logarithm, which does not underflow for large d.
pub fn ln_hit_probability(d: usize, eps: f64) -> f64 {
    let d = d as f64;
    let ln_ball = (d / 2.0) * std::f64::consts::PI.ln() - crate::judge::importance::ln_gamma(d / 2.0 + 1.0)
        + d * eps.sqrt().ln();
    ln_ball - d * (2.0 * HALF_WIDTH).ln()
}

/// Uniform draws until one is within ε, up to the cap; the expected count is computed beside.
fn random_search(centre: &[f64], eps: f64, cap: u64, rng: &mut StdRng) -> Count {
    let log10_expected = -ln_hit_probability(centre.len(), eps) / std::f64::consts::LN_10;
    // Far past the cap, running it would only spend the cap to learn what the arithmetic says.
    if log10_expected > 3.0 + (cap as f64).log10() {
        return Count::Computed { log10_evaluations: log10_expected };
    }
    let mut x = vec![0.0; centre.len()];
    for evaluated in 1..=cap {
        x.iter_mut().for_each(|v| *v = rng.random_range(-HALF_WIDTH..HALF_WIDTH));
        if excess(&x, centre) <= eps {
            return Count::Measured { evaluations: evaluated };
        }
    }
    Count::Capped { cap, log10_computed: Some(log10_expected) }
}

/// x ← x − lr·∇f from a uniform start, one gradient evaluation per step, until within ε.
fn gradient_descent(centre: &[f64], eps: f64, cap: u64, rng: &mut StdRng) -> Count {
    let mut x: Vec<f64> = centre.iter().map(|_| rng.random_range(-HALF_WIDTH..HALF_WIDTH)).collect();
    for evaluated in 1..=cap {
        // ∇f = 2(x − c).
        for (x, c) in x.iter_mut().zip(centre) {
            *x -= LR * 2.0 * (*x - c);
        }
        if excess(&x, centre) <= eps {
            return Count::Measured { evaluations: evaluated };
        }
    }
    Count::Capped { cap, log10_computed: None }
}

impl crate::report::Report for BruteReport {
    fn text(&self) -> String {
        render(self)
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}

/// `brute-force --plot`: log₁₀ of each search's evaluations against the dimension count, the cap
/// drawn as a line (above it, the counts are computed).
pub fn figure(report: &BruteReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let line = |name: &str, pick: fn(&Row) -> &Count| {
        let points = report.rows.iter().filter_map(|r| Some((r.dims as f64, pick(r).log10()?))).collect();
        Series::new(name, points, Style::LinePoints)
    };
    let (lo, hi) = (report.rows.iter().map(|r| r.dims).min(), report.rows.iter().map(|r| r.dims).max());
    let cap = (report.cap as f64).log10();
    let mut series = vec![
        line("grid (kᵈ points)", |r| &r.grid),
        line("random search", |r| &r.random),
        line("gradient descent", |r| &r.gradient_descent),
    ];
    if let (Some(lo), Some(hi)) = (lo, hi) {
        series.push(Series::new(
            "the cap (above: computed)",
            vec![(lo as f64, cap), (hi as f64, cap)],
            Style::Line,
        ));
    }
    Figure::stacked(
        900,
        420,
        vec![Panel::Chart {
            x_categories: Vec::new(),
            title: format!(
                "Evaluations to get within {} of the minimum, against dimension",
                report.tolerance
            ),
            x_label: "dimensions d (log scale)".into(),
            y_label: "log₁₀ of evaluations".into(),
            log_x: true,
            log_y: false,
            series,
            background: Vec::new(),
        }],
    )
}

/// A count as a reader takes it in: `5 184`, `4.1e19 (computed)`, `> 1 000 000 (computed 2.5e7)`.
pub fn describe(count: &Count) -> String {
    use crate::text::{count_from_log10, group};
    match *count {
        Count::Measured { evaluations } => group(evaluations),
        Count::Capped { cap, log10_computed: Some(log10) } => {
            format!("> {} (computed {})", group(cap), count_from_log10(log10))
        }
        Count::Capped { cap, log10_computed: None } => format!("> {}", group(cap)),
        Count::Computed { log10_evaluations } => {
            format!("{} (computed)", count_from_log10(log10_evaluations))
        }
    }
}

/// The table and the verdict.
pub fn render(report: &BruteReport) -> String {
    let mut out = format!(
        "brute force against dimension: f(x) = Σ (xᵢ − cᵢ)² on [−5, 5]ᵈ, found when f(x) − f(c) ≤ {}\n\
         evaluations to get there (run up to {}; past it, computed and labelled so):\n",
        report.tolerance,
        crate::text::group(report.cap)
    );
    out.push_str(&format!(
        "{:>6}  {:>11}  {:>26}  {:>26}  {:>16}\n",
        "d", "grid k/dim", "grid (kᵈ points)", "random search", "gradient descent"
    ));
    for r in &report.rows {
        out.push_str(&format!(
            "{:>6}  {:>11}  {:>26}  {:>26}  {:>16}\n",
            r.dims,
            r.grid_points_per_dim,
            describe(&r.grid),
            describe(&r.random),
            describe(&r.gradient_descent)
        ));
    }
    out.push_str(&format!(
        "(gradient descent: lr {}, one gradient evaluation per step; here one costs what one evaluation of f does)\n",
        report.lr
    ));
    for sentence in report.verdict.sentences() {
        out.push_str(&crate::text::wrap(&sentence, crate::text::WIDTH));
        out.push('\n');
    }
    out.push_str(
        "words: grid search, random search, curse of dimensionality (nnopt glossary TERM explains each)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid costs all its points, and each search draws from its own stream: what the cap
    /// cuts short in one never moves another's count.
    #[test]
    fn the_grid_costs_its_whole_size_and_the_cap_moves_no_other_search() {
        let full = run(&BruteConfig { dims: vec![1, 2], ..Default::default() }).unwrap();
        assert_eq!(full.rows[1].grid, Count::Measured { evaluations: 72 * 72 });
        let small = run(&BruteConfig { dims: vec![1, 2], cap: 25, ..Default::default() }).unwrap();
        for (a, b) in full.rows.iter().zip(&small.rows) {
            assert_eq!(a.gradient_descent, b.gradient_descent, "d = {}", a.dims);
        }
        assert!(matches!(small.rows[1].grid, Count::Computed { .. }));
    }

    #[test]
    fn the_grid_is_just_fine_enough() {
        // d = 1, ε = 0.01: h = 0.2, 51 points; the farthest any point can be from a grid point is
        // h/2 = 0.1, whose excess is 0.01.
        assert_eq!(grid_points_per_dim(1, 0.01), 51);
        assert_eq!(grid_points_per_dim(100, 0.01), 501);
    }

    /// The d-ball's volume against known values: d = 1 is a segment of length 2r, d = 2 a disc.
    #[test]
    fn the_hit_probability_is_the_ball_s_share_of_the_box() {
        assert!((hit_probability(1, 0.01) - 0.2 / 10.0).abs() < 1e-12);
        assert!((hit_probability(2, 0.01) - std::f64::consts::PI * 0.01 / 100.0).abs() < 1e-12);
        // d = 3: 4/3·π·r³ over 10³.
        assert!((hit_probability(3, 0.01) - 4.0 / 3.0 * std::f64::consts::PI * 1e-3 / 1e3).abs() < 1e-15);
        assert!(hit_probability(100, 0.01) > 0.0, "computed in logs, no underflow to 0 at d = 100");
    }

    #[test]
    fn counts_are_grouped_and_computed_ones_labelled() {
        assert_eq!(describe(&Count::Computed { log10_evaluations: 4.1e19f64.log10() }), "4.1e19 (computed)");

        let capped = Count::Capped { cap: 1_000_000, log10_computed: Some(2.5e7f64.log10()) };
        assert_eq!(describe(&capped), "> 1 000 000 (computed 2.5e7)");
    }

    /// Random search's count is geometric with p = the ball's share of the box: over 400 seeds
    /// its mean is 1/p within four standard errors (the oracle is the exact distribution).
    #[test]
    fn random_search_s_count_follows_the_exact_distribution() {
        let centre = [1.3, -0.7];
        let p = hit_probability(2, 0.01);
        let runs = 400u64;
        let total: u64 = (0..runs)
            .map(|seed| match random_search(&centre, 0.01, 1_000_000, &mut StdRng::seed_from_u64(seed)) {
                Count::Measured { evaluations } => evaluations,
                other => panic!("{other:?}"),
            })
            .sum();
        let mean = total as f64 / runs as f64;
        let standard_error = (1.0 - p).sqrt() / p / (runs as f64).sqrt();
        assert!((mean - 1.0 / p).abs() < 4.0 * standard_error, "mean {mean}, 1/p = {}", 1.0 / p);
    }

    /// Gradient descent's count is the arithmetic's: the distance shrinks by 1 − 2·lr a step.
    #[test]
    fn gradient_descent_takes_the_steps_the_contraction_says() {
        let mut rng = StdRng::seed_from_u64(1);
        let centre = [1.0, -2.0];
        let Count::Measured { evaluations } = gradient_descent(&centre, 0.01, 1000, &mut rng) else {
            panic!()
        };
        let mut rng = StdRng::seed_from_u64(1);
        let start: Vec<f64> = centre.iter().map(|_| rng.random_range(-HALF_WIDTH..HALF_WIDTH)).collect();
        let e0 = excess(&start, &centre);
        // excess after t steps = e0·0.64ᵗ ≤ 0.01.
        let t = ((0.01 / e0).ln() / 0.64f64.ln()).ceil() as u64;
        assert_eq!(evaluations, t.max(1));
    }
}

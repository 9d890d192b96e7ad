//! `nnopt descent`: optimizers on loss surfaces small enough to see — the notebook's opening
//! claim made visible: "The original algorithm [gradient descent] is susceptible to getting
//! locked in a local minima and never reach the true minima of the surface", and, where the
//! loss is not continuous and well behaved, gradients fall short.
//!
//! Every surface is a libtorch expression in float64, differentiated by autograd (no
//! hand-written derivative anywhere). `gd` is the notebook's rule written by hand
//! (x ← x − lr·∇f); `momentum`, `nesterov`, `adam` and `rmsprop` are libtorch's own optimizers
//! through tch on a one-parameter VarStore (tch has no Adagrad). Each run reports where it
//! stopped, why, and in which minimum's basin.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{ensure_positive, ensure_usage, guard, torch, usage};
use crate::output::Output;

/// Steps a run may take at most: the trajectory is kept, so this bounds memory.
pub const MAX_STEPS: usize = 100_000;
/// Steps of all runs together (starts × optimizers × steps): about a minute of work.
pub const MAX_TOTAL_STEPS: usize = 1_000_000;
/// `--tol` above this would call a point converged while the slope is still steep.
pub const MAX_TOL: f64 = 1e-2;
/// Starting points a run may spread (`--starts`).
pub const MAX_STARTS: usize = 100;
/// A point this many times farther out than the domain's edge has left it "by orders of
/// magnitude": the run diverged.
const ESCAPE_FACTOR: f64 = 1e3;

/// The loss surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Quadratic,
    Cosine,
    IllConditioned,
    Rosenbrock,
    Rastrigin,
    Saddle,
    Step,
}

/// The optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// x ← x − lr·∇f, by hand.
    Gd,
    /// PyTorch's SGD with momentum (dampening 0): v ← μ·v + g, x ← x − lr·v.
    Momentum,
    /// PyTorch's SGD with Nesterov momentum: x ← x − lr·(g + μ·v).
    Nesterov,
    Adam,
    Rmsprop,
}

impl Optimizer {
    pub const ALL: [Optimizer; 5] =
        [Optimizer::Gd, Optimizer::Momentum, Optimizer::Nesterov, Optimizer::Adam, Optimizer::Rmsprop];

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::Momentum => "momentum",
            Optimizer::Nesterov => "nesterov",
            Optimizer::Adam => "adam",
            Optimizer::Rmsprop => "rmsprop",
        }
    }

    /// Parses one name of `--optimizers`.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|o| o.name()).collect();
            usage(format!("--optimizers: unknown optimizer '{name}'; choose from {}", names.join(", ")))
        })
    }

    /// Whether μ applies.
    fn uses_momentum(self) -> bool {
        matches!(self, Optimizer::Momentum | Optimizer::Nesterov)
    }
}

/// A known minimum of a surface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub global: bool,
}

/// A surface as `--list` and `--json` describe it.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceInfo {
    pub name: &'static str,
    pub formula: &'static str,
    pub dimensions: usize,
    /// [lo, hi] per coordinate.
    pub domain: Vec<[f64; 2]>,
    pub minima: Vec<Minimum>,
    /// What the surface shows.
    pub lesson: &'static str,
    /// A run's defaults on this surface.
    pub default_start: Vec<f64>,
    pub default_lr: f64,
    pub default_steps: usize,
}

impl Surface {
    pub const ALL: [Surface; 7] = [
        Surface::Quadratic,
        Surface::Cosine,
        Surface::IllConditioned,
        Surface::Rosenbrock,
        Surface::Rastrigin,
        Surface::Saddle,
        Surface::Step,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Surface::Quadratic => "quadratic",
            Surface::Cosine => "cosine",
            Surface::IllConditioned => "ill-conditioned",
            Surface::Rosenbrock => "rosenbrock",
            Surface::Rastrigin => "rastrigin",
            Surface::Saddle => "saddle",
            Surface::Step => "step",
        }
    }

    /// Parses `--surface`.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
            usage(format!(
                "--surface: unknown surface '{name}'; choose from {} (or --list)",
                names.join(", ")
            ))
        })
    }

    pub fn formula(self) -> &'static str {
        match self {
            Surface::Quadratic => "x²",
            Surface::Cosine => "x·cos(0.15πx)",
            Surface::IllConditioned => "0.1·x₁² + 2·x₂²",
            Surface::Rosenbrock => "(x₁ − 1)² + 100·(x₂ − x₁²)²",
            Surface::Rastrigin => "20 + Σᵢ (xᵢ² − 10·cos(2πxᵢ))",
            Surface::Saddle => "x₁² − x₂²",
            Surface::Step => "⌊x²⌋",
        }
    }

    fn lesson(self) -> &'static str {
        match self {
            Surface::Quadratic => "one smooth bowl: every method gets there; gd's error shrinks by (1 − 2·lr) per step",
            Surface::Cosine => "two valleys: gradient descent stays in the one it starts by; momentum can carry over the ridge",
            Surface::IllConditioned => "curvatures 0.2 and 4: a step size that suits x₁ makes gd overshoot and diverge along x₂; momentum damps it",
            Surface::Rosenbrock => "a curved, flat-bottomed valley: easy to reach, slow to follow to (1, 1)",
            Surface::Rastrigin => "a local minimum near every integer point: gradient methods stop in the nearest",
            Surface::Saddle => "no minimum at all: (0, 0) is a saddle, and any offset in x₂ runs away",
            Surface::Step => "flat almost everywhere: the gradient is 0, so no gradient method moves; a search does (nnopt sweep)",
        }
    }

    pub fn dimensions(self) -> usize {
        match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => 1,
            _ => 2,
        }
    }

    pub fn domain(self) -> Vec<[f64; 2]> {
        match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => vec![[-10.0, 10.0]],
            Surface::IllConditioned | Surface::Saddle => vec![[-5.0, 5.0]; 2],
            Surface::Rosenbrock => vec![[-2.0, 2.0], [-1.0, 3.0]],
            Surface::Rastrigin => vec![[-5.12, 5.12]; 2],
        }
    }

    /// The defaults of a run on this surface: start, learning rate, steps.
    pub fn defaults(self) -> (Vec<f64>, f64, usize) {
        match self {
            Surface::Quadratic => (vec![10.0], 0.2, 100),
            // From −6.5 at lr 0.2, gd settles in the local valley; SGD with momentum 0.9 carries
            // over the ridge at x ≈ 1.83 into the global one (tested).
            Surface::Cosine => (vec![-6.5], 0.2, 300),
            Surface::IllConditioned => (vec![-5.0, -2.0], 0.6, 500),
            Surface::Rosenbrock => (vec![-1.5, 2.0], 1e-3, 5000),
            // The curvature at a local minimum is about 2 + 40π² ≈ 397: lr 0.002 keeps gd stable there.
            Surface::Rastrigin => (vec![3.2, -2.1], 0.002, 500),
            Surface::Saddle => (vec![-4.0, 0.01], 0.1, 200),
            Surface::Step => (vec![3.5], 0.1, 100),
        }
    }

    /// A 1-D surface applied to every element of `xs` (a grid of points at once).
    fn each_1d(self, xs: &Tensor) -> Tensor {
        match self {
            Surface::Cosine => xs * (xs * (0.15 * std::f64::consts::PI)).cos(),
            Surface::Step => xs.square().floor(),
            _ => xs.square(),
        }
    }

    /// f(x) for x of shape [dimensions], float64, differentiable by autograd.
    pub fn f(self, x: &Tensor) -> Tensor {
        // x has `dimensions()` elements (checked where a run starts), so `get` cannot fail.
        let c = |i: i64| x.get(i);
        match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => self.each_1d(x).sum(Kind::Double),
            Surface::IllConditioned => c(0).square() * 0.1 + c(1).square() * 2.0,
            Surface::Rosenbrock => (c(0) - 1.0).square() + (c(1) - c(0).square()).square() * 100.0,
            Surface::Rastrigin => {
                (x.square() - (x * (2.0 * std::f64::consts::PI)).cos() * 10.0).sum(Kind::Double) + 20.0
            }
            Surface::Saddle => c(0).square() - c(1).square(),
        }
    }

    /// f at a point given as numbers, without autograd.
    pub fn value(self, point: &[f64]) -> Result<f64> {
        let x = Tensor::from_slice(point);
        tch::no_grad(|| self.f(&x)).f_double_value(&[]).map_err(torch)
    }

    /// The known minima. Analytic where the formula says it; for `cosine`, located numerically
    /// from the formula itself (a grid over the domain, then bisection on the autograd gradient).
    pub fn minima(self) -> Result<Vec<Minimum>> {
        let one = |point: Vec<f64>, value: f64| vec![Minimum { point, value, global: true }];
        Ok(match self {
            Surface::Quadratic | Surface::Step => one(vec![0.0], 0.0),
            Surface::IllConditioned | Surface::Rastrigin => one(vec![0.0, 0.0], 0.0),
            Surface::Rosenbrock => one(vec![1.0, 1.0], 0.0),
            Surface::Saddle => Vec::new(),
            Surface::Cosine => {
                let (minima, _) = self.critical_points_1d()?;
                let best = minima.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
                minima
                    .into_iter()
                    .map(|(x, v)| Minimum { point: vec![x], value: v, global: v == best })
                    .collect()
            }
        })
    }

    /// Interior local minima and maxima of a 1-D surface, refined to ~1e-12.
    fn critical_points_1d(self) -> Result<CriticalPoints> {
        let [lo, hi] = self.domain()[0];
        let n = 20_001;
        let xs = Tensor::linspace(lo, hi, n, (Kind::Double, Device::Cpu));
        let ys: Vec<f64> = Vec::try_from(tch::no_grad(|| self.each_1d(&xs))).map_err(torch)?;
        let xs: Vec<f64> = Vec::try_from(&xs).map_err(torch)?;
        let (mut minima, mut maxima) = (Vec::new(), Vec::new());
        for i in 1..ys.len() - 1 {
            let is_min = ys[i] < ys[i - 1] && ys[i] < ys[i + 1];
            let is_max = ys[i] > ys[i - 1] && ys[i] > ys[i + 1];
            if !is_min && !is_max {
                continue;
            }
            let x = self.gradient_zero(xs[i - 1], xs[i + 1])?;
            if is_min {
                minima.push((x, self.value(&[x])?));
            } else {
                maxima.push(x);
            }
        }
        Ok((minima, maxima))
    }

    /// f at `point`, and at `point` ± `fraction` of the domain's width along every axis.
    fn axis_probes(self, point: &[f64], fraction: f64) -> Result<(f64, Vec<f64>)> {
        let mut around = Vec::with_capacity(2 * point.len());
        for (i, [lo, hi]) in self.domain().iter().enumerate() {
            for sign in [-1.0, 1.0] {
                let mut probe = point.to_vec();
                probe[i] += sign * fraction * (hi - lo);
                around.push(self.value(&probe)?);
            }
        }
        Ok((self.value(point)?, around))
    }

    /// Whether f rises from `point` along every axis, both ways (a small step of 1e-4 of the
    /// domain's width): a minimum, as opposed to a plateau or a saddle.
    pub fn is_strict_minimum(self, point: &[f64]) -> Result<bool> {
        let (here, around) = self.axis_probes(point, 1e-4)?;
        Ok(around.iter().all(|&v| v > here))
    }

    /// Whether f is exactly constant around `point` (a millionth of the domain each way along
    /// every axis): a plateau, where no gradient can ever point anywhere.
    pub fn is_locally_constant(self, point: &[f64]) -> Result<bool> {
        let (here, around) = self.axis_probes(point, 1e-6)?;
        Ok(around.iter().all(|&v| v == here))
    }

    /// Whether f curves up (or stays flat) in every direction at `point`: its Hessian, by finite
    /// differences, is positive semi-definite. The second differences are taken with steps of
    /// 1/1000 of the domain, where first-order terms cancel, so a point a little off a minimum
    /// (the gradient below --tol, not zero) passes, while a maximum or a saddle — where the
    /// gradient vanishes too — fails.
    pub fn curves_up(self, point: &[f64]) -> Result<bool> {
        let here = self.value(point)?;
        let h: Vec<f64> = self.domain().iter().map(|[lo, hi]| 1e-3 * (hi - lo)).collect();
        let at = |steps: &[f64]| -> Result<f64> {
            let p: Vec<f64> = point.iter().zip(steps).zip(&h).map(|((x, s), h)| x + s * h).collect();
            self.value(&p)
        };
        // Rounding in f(x ± h) is ~1e-16·|f|; what is below this is flat, not curved.
        let noise = 1e-10 * here.abs().max(1.0);
        if point.len() == 1 {
            return Ok(at(&[1.0])? + at(&[-1.0])? - 2.0 * here >= -noise);
        }
        // Second differences scaled by the steps: [[sxx, sxy], [sxy, syy]] is the Hessian seen
        // through diag(h₁, h₂), positive semi-definite exactly when the Hessian is.
        let sxx = at(&[1.0, 0.0])? + at(&[-1.0, 0.0])? - 2.0 * here;
        let syy = at(&[0.0, 1.0])? + at(&[0.0, -1.0])? - 2.0 * here;
        let sxy = (at(&[1.0, 1.0])? - at(&[1.0, -1.0])? - at(&[-1.0, 1.0])? + at(&[-1.0, -1.0])?) / 4.0;
        Ok(sxx >= -noise
            && syy >= -noise
            && sxx * syy - sxy * sxy >= -noise * (sxx.abs() + syy.abs() + noise))
    }

    /// The zero of f' in [a, b], where f' changes sign once: bisection on the autograd
    /// gradient, to the last bits of a float64 (f itself is too flat at an extremum to locate
    /// it better than ~1e-8).
    fn gradient_zero(self, mut a: f64, mut b: f64) -> Result<f64> {
        let grad = |x: f64| -> Result<f64> {
            let t = Tensor::from_slice(&[x]).set_requires_grad(true);
            let g = Tensor::f_run_backward(&[self.f(&t)], &[&t], false, false).map_err(torch)?.remove(0);
            g.f_double_value(&[0]).map_err(torch)
        };
        let left = grad(a)?;
        for _ in 0..200 {
            let mid = 0.5 * (a + b);
            if mid <= a || mid >= b {
                break;
            }
            if (grad(mid)? > 0.0) == (left > 0.0) {
                a = mid;
            } else {
                b = mid;
            }
        }
        Ok(0.5 * (a + b))
    }

    /// The basin a point lies in: the minimum it belongs to and whether it is the global one,
    /// or `None` (no minimum: the saddle, or outside the domain).
    pub fn basin(self, point: &[f64], minima: &[Minimum]) -> Result<Option<Minimum>> {
        let inside = self.domain().iter().zip(point).all(|(d, &x)| x >= d[0] && x <= d[1]);
        if !inside || minima.is_empty() {
            return Ok(None);
        }
        Ok(match self {
            // One basin: the whole domain (convex, or with one valley floor).
            Surface::Quadratic | Surface::IllConditioned | Surface::Rosenbrock => Some(minima[0].clone()),
            // ⌊x²⌋ is 0 exactly on (−1, 1): the minimum is that flat.
            Surface::Step => (point[0].abs() < 1.0).then(|| minima[0].clone()),
            // Between consecutive maxima (or the domain's edges).
            Surface::Cosine => {
                let (_, maxima) = self.critical_points_1d()?;
                let x = point[0];
                let left = maxima.iter().copied().filter(|&m| m < x).fold(f64::NEG_INFINITY, f64::max);
                let right = maxima.iter().copied().filter(|&m| m > x).fold(f64::INFINITY, f64::min);
                minima.iter().find(|m| m.point[0] > left && m.point[0] < right).cloned()
            }
            // A local minimum sits near every integer point; its basin is the unit cell around it.
            Surface::Rastrigin => {
                let cell: Vec<f64> = point.iter().map(|x| x.round()).collect();
                let global = cell.iter().all(|&c| c == 0.0);
                Some(if global {
                    minima[0].clone()
                } else {
                    let refined = refine_rastrigin(&cell);
                    Minimum { value: self.value(&refined)?, point: refined, global: false }
                })
            }
            Surface::Saddle => None,
        })
    }

    pub fn info(self) -> Result<SurfaceInfo> {
        Ok(SurfaceInfo {
            name: self.name(),
            formula: self.formula(),
            dimensions: self.dimensions(),
            domain: self.domain(),
            minima: self.minima()?,
            lesson: self.lesson(),
            default_start: self.defaults().0,
            default_lr: self.defaults().1,
            default_steps: self.defaults().2,
        })
    }
}

/// A 1-D surface's interior minima as (x, f(x)), and its interior maxima's x.
type CriticalPoints = (Vec<(f64, f64)>, Vec<f64>);

/// The minimizer of a unimodal `f` on [a, b], to ~1e-12.
fn golden_section(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    while b - a > 1e-12 {
        let (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

/// Rastrigin's coordinates separate: each local minimum coordinate solves x + 10π·sin(2πx) = 0
/// near the integer `c` (golden section on the 1-D term).
fn refine_rastrigin(cell: &[f64]) -> Vec<f64> {
    let term = |x: f64| x * x - 10.0 * (2.0 * std::f64::consts::PI * x).cos();
    cell.iter().map(|&c| golden_section(term, c - 0.4, c + 0.4)).collect()
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// ‖∇f‖ fell below `--tol` at a minimum: f curves up there, inside a listed minimum's basin
    /// or rising in every direction.
    Converged,
    /// A non-finite value, or the point left the domain by orders of magnitude.
    Diverged,
    /// ‖∇f‖ below `--tol` at a point that is no minimum: a plateau, a ridge top, a saddle.
    Stalled,
    /// `--steps` ran out first.
    MaxSteps,
}

/// The end of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Final {
    pub point: Vec<f64>,
    pub loss: f64,
    pub steps: usize,
    pub status: Status,
    /// ‖∇f‖ at the final point (null where it diverged).
    pub gradient_norm: Option<f64>,
    /// `"global"`, `"local"`, or null: which minimum's basin the run stopped in.
    pub minimum: Option<&'static str>,
    /// The minimum of that basin.
    #[serde(skip)]
    pub basin: Option<Minimum>,
    /// Stalled where f falls along some direction: a maximum or a saddle, not a plateau.
    #[serde(skip)]
    pub curves_down: bool,
    /// Stalled on a plateau: f is exactly constant around the point (the step surface).
    #[serde(skip)]
    pub flat: bool,
}

/// One optimizer from one start.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub optimizer: Optimizer,
    pub lr: f64,
    /// μ for momentum and nesterov; null for the others.
    pub momentum: Option<f64>,
    pub start: Vec<f64>,
    /// The start and the point after every step taken.
    pub trajectory: Vec<Vec<f64>>,
    /// f at each point of `trajectory`.
    #[serde(skip)]
    pub losses: Vec<f64>,
    #[serde(rename = "final")]
    pub end: Final,
}

/// A `descent` run's settings; `None` means the surface's default.
#[derive(Debug, Clone, PartialEq)]
pub struct DescentConfig {
    pub surface: Surface,
    /// `None`: every optimizer that suits the settings (nesterov needs momentum > 0).
    pub optimizers: Option<Vec<Optimizer>>,
    pub lr: Option<f64>,
    pub momentum: f64,
    pub steps: Option<usize>,
    pub start: Option<Vec<f64>>,
    /// Spread this many starting points over the domain instead of one start.
    pub starts: Option<usize>,
    pub seed: u64,
    pub tol: f64,
}

impl Default for DescentConfig {
    fn default() -> Self {
        DescentConfig {
            surface: Surface::Cosine,
            optimizers: None,
            lr: None,
            momentum: 0.9,
            steps: None,
            start: None,
            starts: None,
            seed: 0,
            tol: 1e-6,
        }
    }
}

impl DescentConfig {
    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        if let Some(lr) = self.lr {
            ensure_positive("--lr", lr)?;
        }
        let m = self.momentum;
        ensure_usage((0.0..1.0).contains(&m), || format!("--momentum must be in [0, 1), got {m}"))?;
        if let Some(steps) = self.steps {
            ensure_usage((1..=MAX_STEPS).contains(&steps), || {
                format!("--steps must be between 1 and {MAX_STEPS}, got {steps}")
            })?;
        }
        ensure_positive("--tol", self.tol)?;
        ensure_usage(self.tol <= MAX_TOL, || {
            format!("--tol {} is too loose: a point would count as converged on a steep slope; use at most {MAX_TOL}", self.tol)
        })?;
        if let Some(list) = &self.optimizers {
            ensure_usage(!list.is_empty(), || "--optimizers lists no optimizer".to_string())?;
            ensure_usage(!(list.contains(&Optimizer::Nesterov) && self.momentum == 0.0), || {
                "--optimizers nesterov needs --momentum above 0 (Nesterov momentum of 0 is plain gd)"
                    .to_string()
            })?;
        }
        let dims = self.surface.dimensions();
        let domain = self.surface.domain();
        if let Some(start) = &self.start {
            ensure_usage(start.len() == dims, || {
                format!(
                    "--start has {} coordinate(s) but {} is {dims}-D; give {}",
                    start.len(),
                    self.surface.name(),
                    if dims == 1 { "--start X" } else { "--start X1,X2" }
                )
            })?;
            let inside = start.iter().zip(&domain).all(|(x, [lo, hi])| (*lo..=*hi).contains(x));
            ensure_usage(inside, || {
                let d: Vec<String> = domain.iter().map(|[lo, hi]| format!("[{lo}, {hi}]")).collect();
                format!(
                    "--start {start:?} is outside {}'s domain {}; its minima are only listed there",
                    self.surface.name(),
                    d.join(" × ")
                )
            })?;
        }
        let runs = self.starts.unwrap_or(1) * self.optimizer_list().len();
        let total = runs.saturating_mul(self.steps.unwrap_or(self.surface.defaults().2));
        ensure_usage(total <= MAX_TOTAL_STEPS, || {
            format!("{runs} runs × {} steps = {total} steps, more than {MAX_TOTAL_STEPS}; lower --steps or --starts", total / runs.max(1))
        })?;
        if let Some(k) = self.starts {
            ensure_usage((1..=MAX_STARTS).contains(&k), || {
                format!("--starts must be between 1 and {MAX_STARTS}, got {k}")
            })?;
            ensure_usage(self.start.is_none(), || "give --start or --starts, not both".to_string())?;
        }
        Ok(())
    }

    /// The optimizers to run: the list given (each once), or every one that suits the settings.
    pub fn optimizer_list(&self) -> Vec<Optimizer> {
        match &self.optimizers {
            Some(list) => Optimizer::ALL.into_iter().filter(|o| list.contains(o)).collect(),
            None => Optimizer::ALL
                .into_iter()
                .filter(|&o| o != Optimizer::Nesterov || self.momentum > 0.0)
                .collect(),
        }
    }

    fn starting_points(&self) -> Vec<Vec<f64>> {
        let (start, _, _) = self.surface.defaults();
        match (self.starts, &self.start) {
            (Some(k), _) => {
                // Stratified along x₁ (one start per 1/k of it), uniform in the others: spread,
                // yet drawn from the seed (nnopt's own generator, not libtorch's global one).
                let mut rng = StdRng::seed_from_u64(self.seed);
                let domain = self.surface.domain();
                (0..k)
                    .map(|i| {
                        domain
                            .iter()
                            .enumerate()
                            .map(|(d, [lo, hi])| {
                                let u: f64 = rng.random();
                                let t = if d == 0 { (i as f64 + u) / k as f64 } else { u };
                                lo + t * (hi - lo)
                            })
                            .collect()
                    })
                    .collect()
            }
            (None, Some(start)) => vec![start.clone()],
            (None, None) => vec![start],
        }
    }
}

/// Everything `descent` found; `text` is the table and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct DescentReport {
    pub surface: SurfaceInfo,
    pub runs: Vec<Run>,
    /// What the runs show, in one line.
    pub summary: String,
    #[serde(skip)]
    pub text: String,
}

/// How x moves.
enum Rule {
    /// x ← x − lr·∇f, by hand under no_grad.
    Gd(f64),
    /// A libtorch optimizer over the VarStore holding x.
    Library(nn::Optimizer),
}

/// One optimizer on the point x.
struct Stepper {
    x: Tensor,
    rule: Rule,
    /// Owns x for a library optimizer.
    _vs: Option<nn::VarStore>,
}

impl Stepper {
    fn new(optimizer: Optimizer, start: &[f64], lr: f64, momentum: f64, device: Device) -> Result<Self> {
        let init = Tensor::from_slice(start).f_to_device(device).map_err(torch)?;
        if optimizer == Optimizer::Gd {
            return Ok(Stepper { x: init.set_requires_grad(true), rule: Rule::Gd(lr), _vs: None });
        }
        let mut vs = nn::VarStore::new(device);
        vs.set_kind(Kind::Double);
        let x = vs.root().f_var_copy("x", &init).map_err(torch)?;
        let opt = match optimizer {
            Optimizer::Nesterov => {
                nn::Sgd { momentum, dampening: 0.0, wd: 0.0, nesterov: true }.build(&vs, lr)
            }
            Optimizer::Adam => nn::Adam::default().build(&vs, lr),
            Optimizer::Rmsprop => nn::RmsProp::default().build(&vs, lr),
            // Momentum (Gd returned above).
            _ => nn::Sgd { momentum, dampening: 0.0, wd: 0.0, nesterov: false }.build(&vs, lr),
        }
        .map_err(torch)?;
        Ok(Stepper { x, rule: Rule::Library(opt), _vs: Some(vs) })
    }

    /// f and ∇f at the current point: one forward and one backward pass per step.
    fn evaluate(&mut self, surface: Surface) -> Result<(f64, Tensor)> {
        let grad = match &mut self.rule {
            Rule::Gd(_) => {
                let loss = surface.f(&self.x);
                let grad =
                    Tensor::f_run_backward(&[&loss], &[&self.x], false, false).map_err(torch)?.remove(0);
                return Ok((loss.f_double_value(&[]).map_err(torch)?, grad));
            }
            Rule::Library(opt) => {
                guard("zero_grad", || opt.zero_grad())?;
                let loss = surface.f(&self.x);
                loss.f_backward().map_err(torch)?;
                (loss.f_double_value(&[]).map_err(torch)?, self.x.grad())
            }
        };
        Ok(grad)
    }

    /// One step from the gradient `evaluate` just computed.
    fn step(&mut self, grad: &Tensor) -> Result<()> {
        match &mut self.rule {
            Rule::Gd(lr) => {
                let lr = *lr;
                tch::no_grad(|| self.x.f_sub_(&(grad * lr)).map(|_| ())).map_err(torch)
            }
            Rule::Library(opt) => guard("the optimizer step", || opt.step()),
        }
    }
}

fn point(x: &Tensor) -> Result<Vec<f64>> {
    Vec::try_from(x.f_detach().and_then(|x| x.f_to_device(Device::Cpu)).map_err(torch)?).map_err(torch)
}

/// What one run is: the optimizer and its settings.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    pub optimizer: Optimizer,
    pub lr: f64,
    pub momentum: f64,
    pub steps: usize,
    pub tol: f64,
    pub device: Device,
}

/// A learning rate as typed: 0.2 as `0.2`, 1e308 as `1e308` (not 309 digits).
fn fmt_rate(lr: f64) -> String {
    if lr != 0.0 && (lr.abs() >= 1e5 || lr.abs() < 1e-4) {
        format!("{lr:e}")
    } else {
        lr.to_string()
    }
}

/// Runs one optimizer from `start` and classifies where it ended.
pub fn run_one(surface: Surface, minima: &[Minimum], spec: RunSpec, start: &[f64]) -> Result<Run> {
    let RunSpec { optimizer, lr, momentum, steps, tol, device } = spec;
    ensure_usage(start.len() == surface.dimensions(), || {
        format!(
            "a start of {} coordinate(s) on the {}-D surface {}",
            start.len(),
            surface.dimensions(),
            surface.name()
        )
    })?;
    let mut stepper = Stepper::new(optimizer, start, lr, momentum, device)?;
    let bound: Vec<f64> =
        surface.domain().iter().map(|[lo, hi]| ESCAPE_FACTOR * lo.abs().max(hi.abs())).collect();
    let mut trajectory = vec![start.to_vec()];
    let mut losses = Vec::new();
    let mut status = Status::MaxSteps;
    let mut taken = 0;
    let mut gradient_norm;
    let mut curves_down = false;
    let mut flat = false;
    loop {
        let (loss, grad) = stepper.evaluate(surface)?;
        losses.push(loss);
        let here = trajectory.last().cloned().unwrap_or_default();
        let escaped = here.iter().zip(&bound).any(|(x, b)| x.abs() > *b);
        if !loss.is_finite() || here.iter().any(|x| !x.is_finite()) || escaped {
            // Its gradient is of no point the run ended at (the last one was left behind).
            status = Status::Diverged;
            gradient_norm = None;
            break;
        }
        let norm = grad.f_norm().and_then(|n| n.f_double_value(&[])).map_err(torch)?;
        gradient_norm = Some(norm);
        if norm < tol {
            // A flat spot is a minimum only where f curves up around it (not at the top of a
            // ridge or a saddle, where the gradient vanishes too), and then only inside a listed
            // minimum's basin or where f rises in every direction (a minimum the surface's
            // domain does not list, past its edge); on a plateau the gradient just vanished.
            let listed = surface.basin(&here, minima)?.is_some();
            curves_down = !surface.curves_up(&here)?;
            let minimum = !curves_down && (listed || surface.is_strict_minimum(&here)?);
            status = if minimum { Status::Converged } else { Status::Stalled };
            flat = !minimum && norm == 0.0 && surface.is_locally_constant(&here)?;
            break;
        }
        if taken == steps {
            break;
        }
        stepper.step(&grad)?;
        taken += 1;
        trajectory.push(point(&stepper.x)?);
    }
    let here = trajectory.last().cloned().unwrap_or_default();
    // A diverged run ended nowhere; a stalled one at a point that is no minimum (a ridge top,
    // a saddle, a plateau), even where that point lies inside some minimum's basin.
    let basin = match status {
        Status::Diverged | Status::Stalled => None,
        _ => surface.basin(&here, minima)?,
    };
    let minimum = basin.as_ref().map(|m| if m.global { "global" } else { "local" });
    Ok(Run {
        optimizer,
        lr,
        momentum: optimizer.uses_momentum().then_some(momentum),
        start: start.to_vec(),
        trajectory,
        end: Final {
            point: here,
            loss: *losses.last().unwrap_or(&f64::NAN),
            steps: taken,
            status,
            gradient_norm,
            minimum,
            basin,
            curves_down,
            flat,
        },
        losses,
    })
}

/// Runs every optimizer of `config` from every start.
pub fn run(config: &DescentConfig, device: Device, out: &Output) -> Result<DescentReport> {
    config.validate()?;
    let surface = config.surface;
    let info = surface.info()?;
    let (_, default_lr, default_steps) = surface.defaults();
    let lr = config.lr.unwrap_or(default_lr);
    let steps = config.steps.unwrap_or(default_steps);
    let starts = config.starting_points();
    let optimizers = config.optimizer_list();
    let bar = out.progress((starts.len() * optimizers.len()) as u64, "runs");
    let mut runs = Vec::new();
    for start in &starts {
        for &optimizer in &optimizers {
            let spec = RunSpec { optimizer, lr, momentum: config.momentum, steps, tol: config.tol, device };
            runs.push(run_one(surface, &info.minima, spec, start)?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let summary = summarize(&runs);
    let text = render(&info, &runs, &summary);
    Ok(DescentReport { surface: info, runs, summary, text })
}

/// A point as text: `-1.8260` or `(1.0000, 1.0000)`.
fn fmt_point(p: &[f64]) -> String {
    // −0.00001 would print as "-0.0000": a sign that says nothing.
    let parts: Vec<String> =
        p.iter().map(|&x| format!("{:.4}", if x.abs() < 5e-5 { 0.0 } else { x })).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// What the runs show, in words: where each one stopped, runs with the same outcome together
/// ("gd, nesterov stopped in the local minimum at −1.8257 from −6.5000; momentum reached …").
pub fn summarize(runs: &[Run]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for run in runs {
        let from = fmt_point(&run.start);
        let at = fmt_point(&run.end.point);
        let outcome = match (run.end.status, run.end.minimum) {
            (Status::Diverged, _) => format!("diverged from {from} (stopped at step {})", run.end.steps),
            (Status::Stalled, _) if run.end.flat => format!(
                "stalled at {at} from {from}: the loss is flat there (gradient exactly 0), so no gradient step \
                 moves it; a search needs no gradient (nnopt sweep)"
            ),
            // (After the flat case: a step surface's plateau ends in a drop that a finite-difference
            // probe sees as curving down, yet what stops gradient descent there is the flatness.
            // The saddle's centre has a zero gradient too, but is not flat.)
            (Status::Stalled, _) if run.end.curves_down => format!(
                "stalled at {at} from {from}: the gradient vanished, yet f still falls along some direction \
                 (a maximum or a saddle point, not a minimum)"
            ),
            (Status::Stalled, _) => format!(
                "stalled at {at} from {from}: the gradient vanished away from every minimum (a nearly flat \
                 region), so gradient steps no longer move it"
            ),
            (Status::MaxSteps, Some(kind)) => {
                format!("ran out of steps at {at} from {from}, in the {kind} minimum's basin")
            }
            (_, Some("local")) => format!("stopped in the local minimum at {at} from {from}"),
            (_, Some(_)) => format!("reached the global minimum at {at} from {from}"),
            (Status::Converged, None) => format!("converged at {at} from {from}: a minimum outside the listed domain"),
            (_, None) => format!("ended at {at} from {from}, in no minimum's basin"),
        };
        match groups.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, names)) => names.push(run.optimizer.name()),
            None => groups.push((outcome, vec![run.optimizer.name()])),
        }
    }
    let parts: Vec<String> =
        groups.iter().map(|(outcome, names)| format!("{} {outcome}", names.join(", "))).collect();
    format!("{}.", parts.join("; "))
}

/// A loss for the table: fixed-point where that is readable, scientific otherwise.
fn fmt_loss(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

fn render(info: &SurfaceInfo, runs: &[Run], summary: &str) -> String {
    let domain: Vec<String> = info.domain.iter().map(|[lo, hi]| format!("[{lo}, {hi}]")).collect();
    let mut text = format!("surface {}: f = {} on {}\n", info.name, info.formula, domain.join(" × "));
    for m in &info.minima {
        let kind = if m.global { "global" } else { "local" };
        let _ = writeln!(text, "  {kind} minimum at {} (f = {:.6})", fmt_point(&m.point), m.value);
    }
    if info.minima.is_empty() {
        text.push_str("  no minimum\n");
    }
    let _ = writeln!(text, "  {}\n", info.lesson);
    let _ = writeln!(
        text,
        "{:<9} {:>8} {:>5} {:>18} {:>18} {:>13} {:>6}  {:<10} minimum",
        "optimizer", "lr", "μ", "start", "final point", "final loss", "steps", "status"
    );
    for r in runs {
        let status = serde_json::to_value(r.end.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{:<9} {:>8} {:>5} {:>18} {:>18} {:>13} {:>6}  {:<10} {}",
            r.optimizer.name(),
            fmt_rate(r.lr),
            r.momentum.map_or("-".to_string(), |m| m.to_string()),
            fmt_point(&r.start),
            fmt_point(&r.end.point),
            fmt_loss(r.end.loss),
            r.end.steps,
            status,
            r.end.minimum.unwrap_or("-")
        );
    }
    let _ = writeln!(text, "\n{summary}");
    text
}

/// `--list`: every surface with its formula, domain and known minima.
pub fn list() -> Result<Vec<SurfaceInfo>> {
    Surface::ALL.iter().map(|s| s.info()).collect()
}

/// The text of `--list`.
pub fn render_list(surfaces: &Vec<SurfaceInfo>) -> String {
    let mut text = String::new();
    for s in surfaces {
        let domain: Vec<String> = s.domain.iter().map(|[lo, hi]| format!("[{lo}, {hi}]")).collect();
        let minima: Vec<String> = s
            .minima
            .iter()
            .map(|m| {
                format!(
                    "{} {} (f = {:.6})",
                    if m.global { "global" } else { "local" },
                    fmt_point(&m.point),
                    m.value
                )
            })
            .collect();
        let minima = if minima.is_empty() { "none".to_string() } else { minima.join(", ") };
        let _ = writeln!(
            text,
            "{:<16} f = {}  on {}\n{:<16} minima: {minima}\n{:<16} defaults: --start {} --lr {} --steps {}\n{:<16} {}\n",
            s.name,
            s.formula,
            domain.join(" × "),
            "",
            "",
            s.default_start.iter().map(f64::to_string).collect::<Vec<_>>().join(","),
            s.default_lr,
            s.default_steps,
            "",
            s.lesson
        );
    }
    text
}

/// The trajectories in long form (`--csv`): one row per point of every run.
pub fn trajectories_csv(report: &DescentReport) -> String {
    let dims = report.surface.dimensions;
    let coords: Vec<String> = (1..=dims).map(|i| format!("x{i}")).collect();
    let mut csv = format!("run,optimizer,lr,momentum,step,{},loss\n", coords.join(","));
    for (i, r) in report.runs.iter().enumerate() {
        for (step, (p, loss)) in r.trajectory.iter().zip(&r.losses).enumerate() {
            let p: Vec<String> = p.iter().map(f64::to_string).collect();
            let m = r.momentum.map_or(String::new(), |m| m.to_string());
            let _ = writeln!(csv, "{i},{},{},{m},{step},{},{loss}", r.optimizer.name(), r.lr, p.join(","));
        }
    }
    csv
}

/// Where `descent --csv` writes.
pub fn write_csv(path: &Path, report: &DescentReport) -> Result<()> {
    crate::fsutil::write_atomic(path, trajectories_csv(report).as_bytes())
}

/// `descent --plot`: a 1-D surface as its curve with each run's iterates on it; a 2-D surface
/// as contour lines with each run's path, start (○) and end (●), and the minima (◎).
pub fn figure(report: &DescentReport) -> Result<crate::plot::Figure> {
    use crate::plot::{contours, Figure, Panel, Segments, Series, Style};
    let info = &report.surface;
    let surface = Surface::parse(info.name)?;
    let label = |r: &Run| {
        let m = r.momentum.map(|m| format!(", μ {m}")).unwrap_or_default();
        let starts = report.runs.iter().filter(|o| o.optimizer == r.optimizer).count();
        if starts > 1 {
            format!("{} (lr {}{m}), {starts} starts", r.optimizer.name(), fmt_rate(r.lr))
        } else {
            format!("{} (lr {}{m})", r.optimizer.name(), fmt_rate(r.lr))
        }
    };
    // One colour per optimizer, however many starts it ran from; only its first run is named
    // in the legend. Palette 6 (grey) and 7 (black) are kept for starts, ends, minima, curve.
    let mut optimizers = Vec::new();
    for r in &report.runs {
        if !optimizers.contains(&r.optimizer) {
            optimizers.push(r.optimizer);
        }
    }
    let run_series = |k: usize, r: &Run, points: Vec<(f64, f64)>, style: Style| {
        let first = report.runs.iter().position(|o| o.optimizer == r.optimizer) == Some(k);
        let name = if first { label(r) } else { String::new() };
        let colour = optimizers.iter().position(|o| *o == r.optimizer).unwrap_or(0) % 6;
        Series::new(name, points, style).coloured(colour)
    };
    let minima = || -> Series {
        let points = info
            .minima
            .iter()
            .map(|m| if m.point.len() == 1 { (m.point[0], m.value) } else { (m.point[0], m.point[1]) })
            .collect();
        Series::new("minima", points, Style::Highlight).coloured(7)
    };
    let panel = if info.dimensions == 1 {
        let [lo, hi] = info.domain[0];
        // The curve over the domain and as far as any iterate went.
        let (lo, hi) = report
            .runs
            .iter()
            .flat_map(|r| r.trajectory.iter().map(|p| p[0]))
            .filter(|x| x.is_finite() && x.abs() < 1e3 * hi.abs().max(lo.abs()))
            .fold((lo, hi), |(a, b), x| (a.min(x), b.max(x)));
        let curve: Vec<(f64, f64)> = (0..=800)
            .map(|i| lo + (hi - lo) * i as f64 / 800.0)
            .map(|x| (x, surface.value(&[x]).unwrap_or(f64::NAN)))
            .collect();
        let mut series = vec![Series::new(format!("f = {}", info.formula), curve, Style::Line).coloured(6)];
        for (k, r) in report.runs.iter().enumerate() {
            let points = r.trajectory.iter().zip(&r.losses).map(|(p, &l)| (p[0], l)).collect();
            series.push(run_series(k, r, points, Style::Points));
        }
        series.push(minima());
        Panel::Chart {
            x_categories: Vec::new(),
            title: format!("descent on {}: f = {} (iterates marked on the curve)", info.name, info.formula),
            x_label: "x".into(),
            y_label: "f(x)".into(),
            log_x: false,
            log_y: false,
            series,
            background: Vec::new(),
        }
    } else {
        let ([x0, x1], [y0, y1]) = (info.domain[0], info.domain[1]);
        let f = |a: f64, b: f64| surface.value(&[a, b]).unwrap_or(f64::NAN);
        // Levels evenly spaced in log(f − min + 1): dense near the minimum, sparse up the walls.
        let samples: Vec<f64> = (0..=40)
            .flat_map(|i| (0..=40).map(move |j| (i, j)))
            .map(|(i, j)| f(x0 + (x1 - x0) * i as f64 / 40.0, y0 + (y1 - y0) * j as f64 / 40.0))
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) =
            samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let levels: Vec<f64> =
            (1..=14).map(|k| lo - 1.0 + ((hi - lo + 1.0).ln() * k as f64 / 15.0).exp()).collect();
        let lines = contours(&f, (x0, x1), (y0, y1), 120, &levels);
        let mut series = Vec::new();
        for (k, r) in report.runs.iter().enumerate() {
            // Only the part inside the picture: a diverged path runs off to infinity.
            let inside = |p: &Vec<f64>| p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
            let path: Vec<(f64, f64)> =
                r.trajectory.iter().take_while(|p| inside(p)).map(|p| (p[0], p[1])).collect();
            series.push(run_series(k, r, path, Style::Line));
        }
        let starts: Vec<(f64, f64)> = report.runs.iter().map(|r| (r.start[0], r.start[1])).collect();
        let ends: Vec<(f64, f64)> = report
            .runs
            .iter()
            .map(|r| (r.end.point[0], r.end.point[1]))
            .filter(|p| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1)
            .collect();
        series.push(Series::new("start", starts, Style::Points).coloured(6));
        series.push(Series::new("end", ends, Style::Points).coloured(7));
        series.push(minima());
        Panel::Chart {
            x_categories: Vec::new(),
            title: format!(
                "descent on {}: f = {} (contours; paths from start to end)",
                info.name, info.formula
            ),
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            log_x: false,
            log_y: false,
            series,
            background: vec![Segments { segments: lines, grey: 190 }],
        }
    };
    Ok(Figure { width: 1000, height: 720, columns: 1, panels: vec![panel] })
}

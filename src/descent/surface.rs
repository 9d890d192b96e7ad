//! The loss surfaces: each one's formula, its gradient as the textbook writes it, its domain,
//! the defaults of a run on it, and what it teaches. Every surface is a libtorch expression in
//! float64, differentiated by autograd: the gradient formulas here are for the reader (and the
//! tests check autograd against them), never used to step.
//!
//! The domain matters: a surface's minima, and the words "global" and "local", are claims about
//! its domain only (`x·cos(0.15πx)` is unbounded below outside [−10, 10]).

use anyhow::Result;
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::error::{torch, usage};

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

/// A box of [lo, hi] per coordinate: where a surface's minima are claimed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Domain(pub Vec<[f64; 2]>);

impl Domain {
    /// Whether `point` lies in the box (edges included).
    pub fn contains(&self, point: &[f64]) -> bool {
        point.len() == self.0.len() && self.0.iter().zip(point).all(|([lo, hi], x)| (*lo..=*hi).contains(x))
    }

    /// `[-10, 10]`, or `[-2, 2] × [-1, 3]`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|[lo, hi]| format!("[{lo}, {hi}]")).collect();
        parts.join(" × ")
    }
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

    /// ∇f, as a textbook writes it.
    pub fn gradient(self) -> &'static str {
        match self {
            Surface::Quadratic => "f'(x) = 2x",
            Surface::Cosine => "f'(x) = cos(0.15πx) − 0.15πx·sin(0.15πx)",
            Surface::IllConditioned => "∇f = (0.2·x₁, 4·x₂)",
            Surface::Rosenbrock => "∇f = (2(x₁ − 1) − 400·x₁(x₂ − x₁²), 200(x₂ − x₁²))",
            Surface::Rastrigin => "∂f/∂xᵢ = 2xᵢ + 20π·sin(2πxᵢ)",
            Surface::Saddle => "∇f = (2x₁, −2x₂)",
            Surface::Step => "f'(x) = 0 wherever it exists (f jumps at |x| = √k)",
        }
    }

    /// What the surface shows.
    pub fn lesson(self) -> &'static str {
        match self {
            Surface::Quadratic => "one smooth bowl: gd's error is multiplied by (1 − 2·lr) each step — it shrinks for lr < 1, swings for lr = 1, grows beyond",
            Surface::Cosine => "two valleys: gradient descent stays in the one it starts by; momentum can carry over the ridge",
            Surface::IllConditioned => "curvatures 0.2 and 4: a step size that suits x₁ makes gd overshoot and diverge along x₂; momentum damps it",
            Surface::Rosenbrock => "a curved, flat-bottomed valley: easy to reach, slow to follow to (1, 1)",
            Surface::Rastrigin => "a local minimum near every integer point: gradient methods stop in the nearest",
            Surface::Saddle => "no minimum at all: (0, 0) is a saddle, and any offset in x₂ runs away",
            Surface::Step => "flat almost everywhere: the gradient is 0, so no gradient method moves; a search does (--optimizers gd,random-search)",
        }
    }

    pub fn dimensions(self) -> usize {
        match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => 1,
            _ => 2,
        }
    }

    pub fn domain(self) -> Domain {
        Domain(match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => vec![[-10.0, 10.0]],
            Surface::IllConditioned | Surface::Saddle => vec![[-5.0, 5.0]; 2],
            Surface::Rosenbrock => vec![[-2.0, 2.0], [-1.0, 3.0]],
            Surface::Rastrigin => vec![[-5.12, 5.12]; 2],
        })
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
    pub(crate) fn each_1d(self, xs: &Tensor) -> Tensor {
        match self {
            Surface::Cosine => xs * (xs * (0.15 * std::f64::consts::PI)).cos(),
            Surface::Step => xs.square().floor(),
            _ => xs.square(),
        }
    }

    /// f(x) for x of shape `[dimensions]`, float64, differentiable by autograd — or for
    /// `[dimensions, N]`, N points at once (a picture's grid), each as alone.
    pub fn f(self, x: &Tensor) -> Tensor {
        // x has `dimensions()` rows (checked where a run starts), so `get` cannot fail.
        let c = |i: i64| x.get(i);
        let sum = |t: Tensor| t.sum_dim_intlist(0, false, Kind::Double);
        match self {
            Surface::Quadratic | Surface::Cosine | Surface::Step => sum(self.each_1d(x)),
            Surface::IllConditioned => c(0).square() * 0.1 + c(1).square() * 2.0,
            Surface::Rosenbrock => (c(0) - 1.0).square() + (c(1) - c(0).square()).square() * 100.0,
            Surface::Rastrigin => sum(x.square() - (x * (2.0 * std::f64::consts::PI)).cos() * 10.0) + 20.0,
            Surface::Saddle => c(0).square() - c(1).square(),
        }
    }

    /// f at each of `points` (each of `dimensions()` numbers), in one pass: what a picture
    /// samples (a curve's 801 points, a contour grid's 14 641).
    pub fn values(self, points: &[Vec<f64>]) -> Result<Vec<f64>> {
        let flat: Vec<f64> = points.iter().flatten().copied().collect();
        let x = Tensor::from_slice(&flat).view([points.len() as i64, self.dimensions() as i64]).tr();
        Vec::try_from(tch::no_grad(|| self.f(&x))).map_err(torch)
    }

    /// f at a point given as numbers, without autograd.
    pub fn value(self, point: &[f64]) -> Result<f64> {
        let x = Tensor::from_slice(point);
        tch::no_grad(|| self.f(&x)).f_double_value(&[]).map_err(torch)
    }

    /// The surface as `--list` and `--json` describe it.
    pub fn info(self) -> Result<SurfaceInfo> {
        let (default_start, default_lr, default_steps) = self.defaults();
        Ok(SurfaceInfo {
            name: self.name(),
            formula: self.formula(),
            gradient: self.gradient(),
            dimensions: self.dimensions(),
            domain: self.domain(),
            minima: self.minima()?,
            lesson: self.lesson(),
            default_start,
            default_lr,
            default_steps,
        })
    }
}

/// A known minimum of a surface, on its domain: `global` means lowest on the domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub global: bool,
}

impl Minimum {
    /// `"global"` or `"local"`.
    pub fn kind(&self) -> &'static str {
        if self.global {
            "global"
        } else {
            "local"
        }
    }
}

/// A surface as `--list` and `--json` describe it.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceInfo {
    pub name: &'static str,
    pub formula: &'static str,
    pub gradient: &'static str,
    pub dimensions: usize,
    /// [lo, hi] per coordinate: the minima below are claims about this box.
    pub domain: Domain,
    pub minima: Vec<Minimum>,
    /// What the surface shows.
    pub lesson: &'static str,
    /// A run's defaults on this surface.
    pub default_start: Vec<f64>,
    pub default_lr: f64,
    pub default_steps: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_contain_their_edges_and_nothing_past_them() {
        let d = Surface::Cosine.domain();
        assert!(d.contains(&[-10.0]) && d.contains(&[10.0]) && d.contains(&[0.0]));
        assert!(!d.contains(&[-10.000001]) && !d.contains(&[f64::NAN]));
        let r = Surface::Rosenbrock.domain();
        assert!(r.contains(&[2.0, 3.0]) && !r.contains(&[2.0, -1.5]));
        assert!(!r.contains(&[0.0]), "a point of the wrong dimension is not inside");
        assert_eq!(r.describe(), "[-2, 2] × [-1, 3]");
    }

    #[test]
    fn every_surface_has_its_default_start_inside_its_domain() {
        for s in Surface::ALL {
            let (start, lr, steps) = s.defaults();
            assert!(s.domain().contains(&start), "{}", s.name());
            assert!(lr > 0.0 && steps > 0);
            assert_eq!(start.len(), s.dimensions());
            assert_eq!(Surface::parse(s.name()).unwrap(), s);
        }
        assert!(Surface::parse("banana").is_err());
    }
}

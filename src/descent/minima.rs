//! The known minima of each surface and the tests a stopping point must pass: whether f
//! curves up there (a finite-difference Hessian), rises in every direction, or is exactly flat,
//! and whose basin of attraction a point lies in. Analytic where the formula says it; for
//! `cosine`, located from the formula itself (a grid over the domain, then bisection on the
//! autograd gradient).

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::surface::{Minimum, Surface};
use crate::error::torch;

impl Surface {
    /// The known minima. Analytic where the formula says it; for `cosine`, located numerically
    /// from the formula itself (a grid over the domain, then bisection on the autograd gradient)
    /// once per process: the same numbers every time, and `nnopt lab` asks at every slider move.
    pub fn minima(self) -> Result<Vec<Minimum>> {
        static FOUND: std::sync::Mutex<Vec<(Surface, Vec<Minimum>)>> = std::sync::Mutex::new(Vec::new());
        let known = |found: &Vec<(Surface, Vec<Minimum>)>| {
            found.iter().find(|(s, _)| *s == self).map(|f| f.1.clone())
        };
        if let Some(minima) = known(&FOUND.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(minima);
        }
        let minima = self.locate_minima()?;
        FOUND.lock().unwrap_or_else(|p| p.into_inner()).push((self, minima.clone()));
        Ok(minima)
    }

    fn locate_minima(self) -> Result<Vec<Minimum>> {
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
    /// [`Self::locate_critical_points_1d`], once per process and surface: the same numbers
    /// every time, and every run's verdict asks (`nnopt lab` at every slider move).
    fn critical_points_1d(self) -> Result<CriticalPoints> {
        static FOUND: std::sync::Mutex<Vec<(Surface, CriticalPoints)>> = std::sync::Mutex::new(Vec::new());
        let lock = || FOUND.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, found)) = lock().iter().find(|(s, _)| *s == self) {
            return Ok(found.clone());
        }
        let found = self.locate_critical_points_1d()?;
        lock().push((self, found.clone()));
        Ok(found)
    }

    fn locate_critical_points_1d(self) -> Result<CriticalPoints> {
        let [lo, hi] = self.domain().0[0];
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
        for (i, [lo, hi]) in self.domain().0.iter().enumerate() {
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

    /// Whether, along every axis, f is exactly constant on at least one side of `point`: on a
    /// plateau or at its edge, where a jump begins (⌊x²⌋ at x = 1), no gradient points anywhere.
    pub fn is_flat_on_a_side(self, point: &[f64]) -> Result<bool> {
        let (here, around) = self.axis_probes(point, 1e-6)?;
        Ok(around.chunks(2).all(|sides| sides.contains(&here)))
    }

    /// Whether f curves up (or stays flat) in every direction at `point`: its Hessian, by finite
    /// differences, is positive semi-definite. The second differences are taken with steps of
    /// 1/1000 of the domain, where first-order terms cancel, so a point a little off a minimum
    /// (the gradient below --tol, not zero) passes, while a maximum or a saddle — where the
    /// gradient vanishes too — fails.
    pub fn curves_up(self, point: &[f64]) -> Result<bool> {
        let here = self.value(point)?;
        let h: Vec<f64> = self.domain().0.iter().map(|[lo, hi]| 1e-3 * (hi - lo)).collect();
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
        if !self.domain().contains(point) || minima.is_empty() {
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
                let cell: Vec<f64> = point.iter().map(|&x| rastrigin_cell(x)).collect();
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
    cell.iter().map(|&c| golden_section(rastrigin_term, c - 0.4, c + 0.4)).collect()
}

/// One coordinate's term of Rastrigin's function.
fn rastrigin_term(x: f64) -> f64 {
    x * x - 10.0 * (2.0 * std::f64::consts::PI * x).cos()
}

/// The integer whose local minimum a coordinate descends to: the cells are bounded by the
/// term's local maxima, which sit a little off the half-integers (the x² term pulls them
/// outwards: ±2.5127, not ±2.5), found by golden section on the negated term.
fn rastrigin_cell(x: f64) -> f64 {
    let k = x.round();
    let top = |m: f64| golden_section(|t| -rastrigin_term(t), m - 0.4, m + 0.4);
    if x > top(k + 0.5) {
        k + 1.0
    } else if x < top(k - 0.5) {
        k - 1.0
    } else {
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_has_one_local_and_one_global_minimum_on_its_domain() {
        let minima = Surface::Cosine.minima().unwrap();
        let kinds: Vec<(bool, f64)> =
            minima.iter().map(|m| (m.global, (m.point[0] * 1e4).round() / 1e4)).collect();
        assert_eq!(kinds, [(false, -1.8257), (true, 7.2694)]);
    }

    #[test]
    fn curvature_tells_a_minimum_from_a_maximum_and_a_saddle() {
        assert!(Surface::Quadratic.curves_up(&[0.0]).unwrap());
        assert!(!Surface::Saddle.curves_up(&[0.0, 0.0]).unwrap(), "a saddle curves down along x₂");
        let minima = Surface::Cosine.minima().unwrap();
        assert!(Surface::Cosine.curves_up(&minima[0].point).unwrap());
        assert!(
            !Surface::Cosine.curves_up(&[1.82568457867234]).unwrap(),
            "the ridge top between the valleys"
        );
        assert!(Surface::Step.is_flat_on_a_side(&[3.5]).unwrap());
        // The edge of a jump: flat on the left of x = 1 (⌊x²⌋ = 0), a step up on the right.
        assert!(Surface::Step.is_flat_on_a_side(&[1.0]).unwrap());
        assert!(!Surface::Saddle.is_flat_on_a_side(&[0.0, 0.0]).unwrap());
        assert!(!Surface::Quadratic.is_flat_on_a_side(&[3.5]).unwrap());
    }

    #[test]
    fn basins_are_claims_about_the_domain() {
        let s = Surface::Cosine;
        let minima = s.minima().unwrap();
        assert_eq!(s.basin(&[-4.0], &minima).unwrap().map(|m| m.global), Some(false));
        assert_eq!(s.basin(&[5.0], &minima).unwrap().map(|m| m.global), Some(true));
        assert_eq!(s.basin(&[-13.66], &minima).unwrap(), None, "outside [-10, 10]: no basin is claimed");
        let step = Surface::Step;
        let m = step.minima().unwrap();
        assert!(step.basin(&[0.5], &m).unwrap().is_some() && step.basin(&[1.5], &m).unwrap().is_none());
        // Rastrigin's cells end at the term's maxima, ±2.5127 — not at the half-integers.
        assert_eq!(rastrigin_cell(2.505), 2.0);
        assert_eq!(rastrigin_cell(2.52), 3.0);
        assert_eq!(rastrigin_cell(-2.505), -2.0);
        assert_eq!(rastrigin_cell(0.3), 0.0);
    }
}

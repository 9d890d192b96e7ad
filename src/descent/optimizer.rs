//! The optimizers, each carrying its update rule as the textbook writes it. `gd` is the
//! notebook's rule written by hand (x ← x − lr·∇f); `momentum`, `nesterov`, `adam` and `rmsprop`
//! are libtorch's own optimizers through tch on a one-parameter VarStore (tch has no Adagrad);
//! `random-search` and `grid-search` use no gradient at all: they sample the domain and keep the
//! best point, which is what works where the gradient says nothing (the step surface).

use anyhow::Result;
use serde::{Serialize, Serializer};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::error::{guard, torch, usage};

/// The optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    Gd,
    Momentum,
    Nesterov,
    Adam,
    Rmsprop,
    RandomSearch,
    GridSearch,
}

impl Serialize for Optimizer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Optimizer {
    pub const ALL: [Optimizer; 7] = [
        Optimizer::Gd,
        Optimizer::Momentum,
        Optimizer::Nesterov,
        Optimizer::Adam,
        Optimizer::Rmsprop,
        Optimizer::RandomSearch,
        Optimizer::GridSearch,
    ];

    /// The gradient methods, the default list.
    pub const GRADIENT: [Optimizer; 5] =
        [Optimizer::Gd, Optimizer::Momentum, Optimizer::Nesterov, Optimizer::Adam, Optimizer::Rmsprop];

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::Momentum => "momentum",
            Optimizer::Nesterov => "nesterov",
            Optimizer::Adam => "adam",
            Optimizer::Rmsprop => "rmsprop",
            Optimizer::RandomSearch => "random-search",
            Optimizer::GridSearch => "grid-search",
        }
    }

    /// Parses one name of `--optimizers`.
    pub fn parse(name: &str) -> Result<Self> {
        if name.trim().is_empty() {
            return Err(usage(
                "--optimizers has an empty item; list names separated by commas, like gd,momentum",
            ));
        }
        Self::ALL.into_iter().find(|o| o.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|o| o.name()).collect();
            usage(format!("--optimizers: unknown optimizer '{name}'; choose from {}", names.join(", ")))
        })
    }

    /// The update rule, in the textbook's notation (g = ∇f(x); t counts steps from 1). The
    /// constants are libtorch's defaults, which nnopt uses.
    pub fn rule(self) -> &'static str {
        match self {
            Optimizer::Gd => "x ← x − lr·g",
            Optimizer::Momentum => "v ← μ·v + g;  x ← x − lr·v",
            Optimizer::Nesterov => "v ← μ·v + g;  x ← x − lr·(g + μ·v)",
            Optimizer::Adam => {
                "m ← β₁·m + (1 − β₁)·g;  s ← β₂·s + (1 − β₂)·g²;  m̂ ← m/(1 − β₁ᵗ);  ŝ ← s/(1 − β₂ᵗ);  \
                 x ← x − lr·m̂/(√ŝ + ε)   (β₁ 0.9, β₂ 0.999, ε 1e-8)"
            }
            Optimizer::Rmsprop => "s ← α·s + (1 − α)·g²;  x ← x − lr·g/(√s + ε)   (α 0.99, ε 1e-8)",
            Optimizer::RandomSearch => {
                "x ~ uniform over the domain, one per step;  keep x where f(x) < f(best)"
            }
            Optimizer::GridSearch => {
                "x runs over an even grid of the domain (steps points);  keep the lowest f"
            }
        }
    }

    /// The rule in one plain sentence, where its symbols need one (Adam's and RMSprop's).
    pub fn in_words(self) -> Option<&'static str> {
        match self {
            Optimizer::Adam => Some(
                "m is a running mean of the gradient (a velocity), s of its square; the hats undo starting both at 0, \
                 and dividing by √ŝ makes every coordinate's step about lr long where the gradient is steady, \
                 whatever the slope's size",
            ),
            Optimizer::Rmsprop => Some(
                "s is a running mean of the squared gradient, starting at 0 with no correction, so the first steps \
                 are up to lr/√(1 − α) = 10× lr long; after that, dividing by √s gives every coordinate a step of \
                 about lr, steep or gentle, with no velocity",
            ),
            _ => None,
        }
    }

    /// The rule's last line, short enough for a picture's legend.
    pub fn short_rule(self) -> &'static str {
        match self {
            Optimizer::Adam => "x ← x − lr·m̂/(√ŝ + ε)",
            Optimizer::Rmsprop => "x ← x − lr·g/(√s + ε)",
            Optimizer::RandomSearch => "best of uniform samples",
            Optimizer::GridSearch => "best of a grid",
            other => other.rule(),
        }
    }

    /// Whether μ applies.
    pub fn uses_momentum(self) -> bool {
        matches!(self, Optimizer::Momentum | Optimizer::Nesterov)
    }

    /// Whether a learning rate applies (the searches take none).
    pub fn uses_gradient(self) -> bool {
        !matches!(self, Optimizer::RandomSearch | Optimizer::GridSearch)
    }
}

/// How x moves under a gradient method.
enum Update {
    /// x ← x − lr·∇f, by hand under no_grad.
    Gd(f64),
    /// A libtorch optimizer over the VarStore holding x.
    Library(nn::Optimizer),
}

/// One gradient method on the point x.
pub(crate) struct Stepper {
    pub x: Tensor,
    update: Update,
    /// Owns x for a library optimizer.
    _vs: Option<nn::VarStore>,
}

impl Stepper {
    pub fn new(optimizer: Optimizer, start: &[f64], lr: f64, momentum: f64, device: Device) -> Result<Self> {
        let init = Tensor::from_slice(start).f_to_device(device).map_err(torch)?;
        if optimizer == Optimizer::Gd {
            return Ok(Stepper { x: init.set_requires_grad(true), update: Update::Gd(lr), _vs: None });
        }
        let mut vs = nn::VarStore::new(device);
        vs.set_kind(Kind::Double);
        let x = vs.root().f_var_copy("x", &init).map_err(torch)?;
        let sgd = |nesterov| nn::Sgd { momentum, dampening: 0.0, wd: 0.0, nesterov };
        let opt = match optimizer {
            Optimizer::Momentum => sgd(false).build(&vs, lr),
            Optimizer::Nesterov => sgd(true).build(&vs, lr),
            Optimizer::Adam => nn::Adam::default().build(&vs, lr),
            Optimizer::Rmsprop => nn::RmsProp::default().build(&vs, lr),
            other => return Err(anyhow::anyhow!("{} takes no gradient steps", other.name())),
        }
        .map_err(torch)?;
        Ok(Stepper { x, update: Update::Library(opt), _vs: Some(vs) })
    }

    /// f and ∇f at the current point: one forward and one backward pass per step.
    pub fn evaluate(&mut self, surface: super::Surface) -> Result<(f64, Tensor)> {
        match &mut self.update {
            Update::Gd(_) => {
                let loss = surface.f(&self.x);
                let grad =
                    Tensor::f_run_backward(&[&loss], &[&self.x], false, false).map_err(torch)?.remove(0);
                Ok((loss.f_double_value(&[]).map_err(torch)?, grad))
            }
            Update::Library(opt) => {
                guard("zero_grad", || opt.zero_grad())?;
                let loss = surface.f(&self.x);
                loss.f_backward().map_err(torch)?;
                Ok((loss.f_double_value(&[]).map_err(torch)?, self.x.grad()))
            }
        }
    }

    /// One step from the gradient `evaluate` just computed.
    pub fn step(&mut self, grad: &Tensor) -> Result<()> {
        match &mut self.update {
            Update::Gd(lr) => {
                let lr = *lr;
                tch::no_grad(|| self.x.f_sub_(&(grad * lr)).map(|_| ())).map_err(torch)
            }
            Update::Library(opt) => guard("the optimizer step", || opt.step()),
        }
    }

    /// The current point as numbers.
    pub fn point(&self) -> Result<Vec<f64>> {
        let x = self.x.f_detach().and_then(|x| x.f_to_device(Device::Cpu)).map_err(torch)?;
        Vec::try_from(x).map_err(torch)
    }
}

/// The points a grid search visits: `per_axis` evenly spaced values per coordinate (edges
/// included; one value is the centre), the largest count whose grid has at most `budget` points.
pub fn grid_points(domain: &[[f64; 2]], budget: usize) -> Vec<Vec<f64>> {
    let dims = domain.len() as u32;
    let mut per_axis = 1usize;
    while (per_axis + 1).checked_pow(dims).is_some_and(|n| n <= budget) {
        per_axis += 1;
    }
    let axis = |[lo, hi]: [f64; 2]| -> Vec<f64> {
        if per_axis == 1 {
            return vec![0.5 * (lo + hi)];
        }
        (0..per_axis).map(|i| lo + (hi - lo) * i as f64 / (per_axis - 1) as f64).collect()
    };
    let mut points = vec![Vec::new()];
    for &range in domain {
        let values = axis(range);
        points = points
            .into_iter()
            .flat_map(|p: Vec<f64>| {
                values.iter().map(move |&v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optimizer_has_a_rule_and_parses_back() {
        for o in Optimizer::ALL {
            assert_eq!(
                Optimizer::ALL.iter().filter(|p| p.rule() == o.rule()).count(),
                1,
                "{}'s rule is its own",
                o.name()
            );
            assert!(!o.short_rule().is_empty());
            assert_eq!(Optimizer::parse(o.name()).unwrap(), o);
        }
        assert!(Optimizer::Momentum.rule().contains("μ·v"));
        assert!(Optimizer::Adam.rule().contains("1 − β₁ᵗ"), "Adam's rule shows its bias correction");
        assert!(Optimizer::parse(" ").unwrap_err().to_string().contains("empty item"));
        let err = Optimizer::parse("sgdx").unwrap_err().to_string();
        assert!(err.contains("--optimizers") && err.contains("random-search"), "{err}");
    }

    #[test]
    fn grid_points_fill_the_budget_and_cover_the_edges() {
        let g = grid_points(&[[-10.0, 10.0]], 100);
        assert_eq!(g.len(), 100);
        assert_eq!((g[0][0], g[99][0]), (-10.0, 10.0));
        let g = grid_points(&[[-2.0, 2.0], [-1.0, 3.0]], 500);
        assert_eq!(g.len(), 22 * 22, "22² = 484 ≤ 500 < 23²");
        assert!(g.contains(&vec![2.0, 3.0]) && g.contains(&vec![-2.0, -1.0]));
        assert_eq!(grid_points(&[[0.0, 2.0]; 2], 3), [vec![1.0, 1.0]], "never more than the budget");
    }
}

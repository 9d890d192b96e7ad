//! The search space, typed: which hyperparameters vary and over what (a list, or a range drawn
//! uniformly or log-uniformly), one configuration of values, and the grid over a space. The
//! flag strings (`0.01,0.05`, `1e-3..1:log`) are parsed by [`super::parse::parse_domain`], called where the
//! CLI reads its other flags.

use anyhow::Result;
use rand::rngs::StdRng;
use rand::RngExt;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::train::{OptimizerKind, TrainConfig};

/// The hyperparameters nnopt searches, in this order, with the flag that sets each.
pub const NAMES: [&str; 6] = ["lr", "momentum", "weight_decay", "batch_size", "hidden", "optimizer"];

/// The column a grid's replicates differ in (`--repeats`): not a hyperparameter.
pub const SEED: &str = "seed";

/// `--weight-decay` for `weight_decay`.
pub fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

/// The values one hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A list of numbers (`--lr 0.01,0.05`).
    Floats(Vec<f64>),
    /// A list of whole numbers (`--batch-size 32,128`).
    Ints(Vec<i64>),
    /// `lo..hi` (uniform) or `lo..hi:log` (log-uniform); whole numbers for an integer flag.
    Range { lo: f64, hi: f64, log: bool, int: bool },
    /// `--hidden 32,64,256x128`: layer widths per choice.
    Hidden(Vec<Vec<i64>>),
    /// `--optimizer sgd,adam`.
    Optimizers(Vec<OptimizerKind>),
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Domain::Floats(v) => v.serialize(s),
            Domain::Ints(v) => v.serialize(s),
            Domain::Hidden(v) => v.serialize(s),
            Domain::Optimizers(v) => v.serialize(s),
            &Domain::Range { lo, hi, log, int } => {
                let mut map = s.serialize_map(Some(4))?;
                map.serialize_entry("low", &lo)?;
                map.serialize_entry("high", &hi)?;
                map.serialize_entry("log", &log)?;
                map.serialize_entry("integer", &int)?;
                map.end()
            }
        }
    }
}

impl Domain {
    /// The choices of a list, or `points` values of a range (the ends exactly, the points
    /// between evenly spaced; in log for `:log`).
    pub fn values(&self, points: usize) -> Vec<Param> {
        match self {
            Domain::Floats(v) => v.iter().map(|&x| Param::Float(x)).collect(),
            Domain::Ints(v) => v.iter().map(|&x| Param::Int(x)).collect(),
            Domain::Hidden(v) => v.iter().map(|w| Param::Hidden(w.clone())).collect(),
            Domain::Optimizers(v) => v.iter().map(|&o| Param::Optimizer(o)).collect(),
            &Domain::Range { lo, hi, log, int } => {
                let at = |t: f64| match t {
                    0.0 => lo,
                    1.0 => hi,
                    _ if log => (lo.ln() + t * (hi.ln() - lo.ln())).exp(),
                    _ => lo + t * (hi - lo),
                };
                let mut values: Vec<Param> = (0..points)
                    .map(|i| if points == 1 { 0.5 } else { i as f64 / (points - 1) as f64 })
                    .map(|t| if int { Param::Int(at(t).round() as i64) } else { Param::Float(at(t)) })
                    .collect();
                values.dedup();
                values
            }
        }
    }

    pub fn is_range(&self) -> bool {
        matches!(self, Domain::Range { .. })
    }

    /// One value drawn uniformly (log-uniformly for `:log`).
    pub fn sample(&self, rng: &mut StdRng) -> Param {
        match self {
            &Domain::Range { lo, hi, log, int } => from_unit(lo, hi, log, int, rng.random()),
            list => {
                let values = list.values(1);
                values[rng.random_range(0..values.len())].clone()
            }
        }
    }
}

/// The value at position `u` ∈ [0, 1) of a range: integers are drawn from [lo, hi + 1) and
/// floored, so each whole number from lo to hi is equally likely (per unit of the scale).
pub fn from_unit(lo: f64, hi: f64, log: bool, int: bool, u: f64) -> Param {
    let (a, b) = scale_bounds(lo, hi, log, int);
    let t = a + u * (b - a);
    let x = if log { t.exp() } else { t };
    if int {
        Param::Int(x.floor().clamp(lo, hi) as i64)
    } else {
        Param::Float(x.clamp(lo, hi))
    }
}

/// A range's ends on the scale it is sampled in (log for `:log`), half-open; integers get the
/// whole last unit.
pub fn scale_bounds(lo: f64, hi: f64, log: bool, int: bool) -> (f64, f64) {
    let hi = if int { hi + 1.0 } else { hi };
    if log {
        (lo.ln(), hi.ln())
    } else {
        (lo, hi)
    }
}

/// One hyperparameter's value in a trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Float(f64),
    Int(i64),
    Hidden(Vec<i64>),
    Optimizer(OptimizerKind),
    /// Not used by this trial (momentum with Adam): `n/a`, null in JSON, excluded from analyses.
    Unused,
}

impl Serialize for Param {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Param::Float(v) => s.serialize_f64(*v),
            Param::Int(v) => s.serialize_i64(*v),
            Param::Hidden(w) => w.serialize(s),
            Param::Optimizer(o) => o.serialize(s),
            Param::Unused => s.serialize_none(),
        }
    }
}

impl Param {
    /// As written in the CSV and read back by `--resume` (an unused value is an empty cell).
    pub fn text(&self) -> String {
        match self {
            Param::Float(v) => v.to_string(),
            Param::Int(v) => v.to_string(),
            Param::Hidden(w) => w.iter().map(i64::to_string).collect::<Vec<_>>().join("x"),
            Param::Optimizer(OptimizerKind::Sgd) => "sgd".into(),
            Param::Optimizer(OptimizerKind::Adam) => "adam".into(),
            Param::Unused => String::new(),
        }
    }

    /// For people: small values told apart (4.000e-5, not 0.0000), `n/a` where unused.
    pub fn short(&self) -> String {
        match self {
            Param::Float(x) => short(*x),
            Param::Unused => "n/a".into(),
            other => other.text(),
        }
    }

    /// A number, where it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Param::Float(v) => Some(*v),
            Param::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

/// A hyperparameter's value in a few characters that still tell small values apart: 0.0316,
/// 4.000e-5 (not 0.0000), 1.000e6.
pub fn short(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e4) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// Sets one hyperparameter of a training config.
pub fn apply(config: &mut TrainConfig, name: &str, value: &Param) {
    match (name, value) {
        ("lr", Param::Float(v)) => config.lr = Some(*v),
        ("momentum", Param::Float(v)) => config.momentum = Some(*v),
        ("weight_decay", Param::Float(v)) => config.weight_decay = *v,
        ("batch_size", Param::Int(v)) => config.batch_size = *v,
        ("batch_size", Param::Float(v)) => config.batch_size = v.round() as i64,
        ("hidden", Param::Hidden(w)) => config.hidden = w.clone(),
        ("optimizer", Param::Optimizer(o)) => config.optimizer = *o,
        // A grid's replicate (`--repeats`): the same configuration from another seed.
        ("seed", Param::Int(v)) => config.seed = *v as u64,
        _ => {}
    }
}

/// The search space: the hyperparameters given on the command line (the others stay at
/// `train`'s defaults), in [`NAMES`]' order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Space {
    pub dims: Vec<(&'static str, Domain)>,
}

impl Serialize for Space {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.dims.len()))?;
        for (name, domain) in &self.dims {
            map.serialize_entry(name, domain)?;
        }
        map.end()
    }
}

impl Space {
    /// The space searched when no hyperparameter flag is given: the learning rate, log-uniform
    /// over three decades, and the hidden width — a small architecture search.
    pub fn default_search() -> Space {
        Space {
            dims: vec![
                ("lr", Domain::Range { lo: 0.001, hi: 1.0, log: true, int: false }),
                ("hidden", Domain::Hidden(vec![vec![16], vec![32], vec![64]])),
            ],
        }
    }

    /// This space with each configuration repeated from `repeats` seeds (`seed`, `seed` + 1,
    /// …), as one more column of the grid: the replicates that measure seed-to-seed noise.
    pub fn with_seeds(&self, seed: u64, repeats: usize) -> Space {
        let mut space = self.clone();
        if repeats > 1 {
            let seeds = (0..repeats as u64).map(|k| seed.wrapping_add(k) as i64).collect();
            space.dims.push((SEED, Domain::Ints(seeds)));
        }
        space
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.dims.iter().map(|(n, _)| *n).collect()
    }

    /// One configuration drawn uniformly (log-uniformly for `:log` ranges).
    pub fn sample(&self, rng: &mut StdRng, base: &TrainConfig) -> Config {
        Config(self.dims.iter().map(|(n, d)| (*n, d.sample(rng))).collect()).normalized(base)
    }

    /// Every grid point once: lists as given, ranges as `points` values; points that differ
    /// only in a value their optimizer does not use are one.
    pub fn grid(&self, points: usize, base: &TrainConfig) -> Vec<Config> {
        let mut configs = vec![Vec::new()];
        for (name, domain) in &self.dims {
            let values = domain.values(points);
            configs = configs
                .into_iter()
                .flat_map(|prefix: Vec<(&'static str, Param)>| {
                    values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((*name, v.clone()));
                        c
                    })
                })
                .collect();
        }
        distinct(configs.into_iter().map(|c| Config(c).normalized(base)))
    }

    /// How many points the grid's product holds before merging, and each flag's count: checked
    /// before the grid is built (100 values of four ranges would be 10⁸ configurations).
    pub fn grid_size(&self, points: usize) -> (Option<usize>, Vec<(String, usize)>) {
        let counts: Vec<(String, usize)> =
            self.dims.iter().map(|(n, d)| (flag(n), d.values(points).len())).collect();
        let product = counts.iter().try_fold(1usize, |acc, (_, k)| acc.checked_mul(*k));
        (product, counts)
    }

    /// How many distinct configurations the space holds, where it is finite (no range).
    pub fn distinct_count(&self, base: &TrainConfig) -> Option<usize> {
        (!self.dims.iter().any(|(_, d)| d.is_range())).then(|| self.grid(1, base).len())
    }
}

/// Each configuration once, in first-seen order (compared by their CSV cells, hashed).
pub fn distinct(configs: impl IntoIterator<Item = Config>) -> Vec<Config> {
    let mut seen = std::collections::HashSet::new();
    configs.into_iter().filter(|c| seen.insert(c.key())).collect()
}

/// A trial's hyperparameters, in the space's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Config(pub Vec<(&'static str, Param)>);

impl Serialize for Config {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Config {
    /// The training config this trial runs: `base` with these values. Momentum means nothing to
    /// Adam, so a trial that picks Adam leaves it unused (and trains eagerly).
    pub fn train_config(&self, base: &TrainConfig) -> TrainConfig {
        let mut config = base.clone();
        for (name, value) in &self.0 {
            apply(&mut config, name, value);
        }
        if config.optimizer == OptimizerKind::Adam {
            config.momentum = None;
            // Adam's steps cannot be replayed as one graph: `--cuda-graphs on` is for the SGD trials.
            config.cuda_graphs = config.cuda_graphs.filter(|on| !on);
        }
        config
    }

    /// With momentum marked unused where the optimizer is Adam.
    pub fn normalized(mut self, base: &TrainConfig) -> Self {
        if self.train_config(base).optimizer == OptimizerKind::Adam {
            for (name, value) in &mut self.0 {
                if *name == "momentum" {
                    *value = Param::Unused;
                }
            }
        }
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The CSV cells, in the space's order: with the budget, what identifies a run.
    pub fn key(&self) -> Vec<String> {
        self.0.iter().map(|(_, v)| v.text()).collect()
    }

    /// `lr=0.0316 hidden=64 momentum=n/a …`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={}", v.short())).collect();
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(flags: &[(&'static str, &str)]) -> Space {
        let mut s = Space::default();
        for (name, text) in flags {
            s.add(name, text).unwrap();
        }
        s
    }

    #[test]
    fn the_grid_is_the_product_with_adam_s_momentum_merged() {
        let base = TrainConfig::default();
        let s = space(&[("momentum", "0.5,0.9"), ("optimizer", "sgd,adam")]);
        let grid = s.grid(3, &base);
        let described: Vec<String> = grid.iter().map(Config::describe).collect();
        assert_eq!(
            described,
            ["momentum=0.5000 optimizer=sgd", "momentum=n/a optimizer=adam", "momentum=0.9000 optimizer=sgd"]
        );
        assert_eq!(s.distinct_count(&base), Some(3));
        assert_eq!(space(&[("lr", "0.01..0.1")]).distinct_count(&base), None, "a range is not finite");
        let json = serde_json::to_value(&grid[1]).unwrap();
        assert!(json["momentum"].is_null() && json["optimizer"] == "adam", "{json}");
    }

    /// `--cuda-graphs on` reaches the SGD trials; an Adam trial trains eagerly (its steps cannot
    /// be replayed), and `off` or the default pass through unchanged.
    #[test]
    fn cuda_graphs_reach_sgd_trials_only() {
        let s = space(&[("optimizer", "sgd,adam")]);
        for asked in [Some(true), Some(false), None] {
            let base = TrainConfig { cuda_graphs: asked, ..TrainConfig::default() };
            let configs: Vec<TrainConfig> = s.grid(3, &base).iter().map(|c| c.train_config(&base)).collect();
            let got: Vec<(OptimizerKind, Option<bool>)> =
                configs.iter().map(|c| (c.optimizer, c.cuda_graphs)).collect();
            let adam = if asked == Some(true) { None } else { asked };
            assert_eq!(got, [(OptimizerKind::Sgd, asked), (OptimizerKind::Adam, adam)]);
        }
    }
}

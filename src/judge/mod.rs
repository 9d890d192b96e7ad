//! Judgement: every claim nnopt prints about a run — converged, oscillating, heading for a
//! minimum, dead, at chance, within noise, an effect, advice to change `--lr` — is made here,
//! and nowhere else. Each verdict is a value carrying its evidence (the widths it compared, the
//! epochs, the bound and its probability), computed by pure functions over recorded numbers;
//! where the evidence needs more computation (a descent run continued, a winner retrained), the
//! command computes it and hands it over. Text and JSON are rendered from that one value.
//!
//! - [`motion`]: a descent run — how it stopped, its motion and swing, where it is heading,
//!   how near a minimum it ended; [`descent`]: that verdict in words.
//! - [`chance`]: the one chance bound (the exact binomial) of `train`, `sweep` and `evaluate`;
//!   [`training`]: a trained classifier's verdict (chance, a collapse onto one class, `--lr`
//!   advice only with evidence), and [`confusions`]: which class it takes for which.
//! - [`effects`]: what a sweep's trials say about each hyperparameter — a grid's main effects,
//!   the others' rank-test importance — built on [`importance`] and [`noise`], and said in
//!   [`sweep`];
//! - [`importance`]: which hyperparameter matters in observational trials, by a rank test that
//!   can see a cliff; [`noise`]: whether a difference is an effect, against the seed noise
//!   measured by retraining and the validation sample's binomial noise, at 95 %.
//! - [`brute`]: from which dimension on a grid and random search need more than a cap;
//! - [`contrast`]: why runs from one start ended in different minima (velocity, adaptive steps);
//! - [`depth`]: what `nnopt depth` shows — a network at chance, a vanishing gradient, dead
//!   units, a remedy that helps;
//! - [`kink`]: which side of relu's kink autograd's pre-activation lies, in float32;
//! - [`rise`]: why a perceptron's loss rose, read from replays of the rising epochs, and what
//!   its test loss says; [`mod@unit`]: the perceptron's ReLU unit — never alive, died, revived — and every rise of its
//!   loss.

pub mod brute;
pub mod chance;
pub mod confusions;
pub mod contrast;
pub mod depth;
pub mod descent;
pub mod effects;
pub mod importance;
pub mod kink;
pub mod motion;
pub mod noise;
pub mod rise;
pub mod sweep;
pub mod training;
pub mod unit;

//! Why optimizers that started at the same point ended in different minima, in plain words,
//! from what their runs did: momentum's velocity carried one over a ridge (its longest step
//! against the trapped runs' longest), Adam's and RMSprop's per-coordinate scaling kept their
//! steps near lr (said only where their longest step shows it), and whether a velocity is enough
//! depends on μ and lr (with the command that shows it).

use serde::Serialize;

/// How an optimizer moves, as far as the explanation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mover {
    /// x ← x − lr·g.
    Plain,
    /// A velocity: v ← μ·v + g (momentum, Nesterov).
    Velocity,
    /// Steps scaled per coordinate by the gradient's running size (Adam, RMSprop).
    Adaptive,
    /// No gradient (random or grid search).
    Search,
}

/// One run, as the explanation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved<'a> {
    /// The run's label (`momentum (lr 0.2, μ 0.5)` where one optimizer runs twice).
    pub name: &'a str,
    /// The optimizer's own name (`momentum`), for the command to try.
    pub optimizer: &'a str,
    pub mover: Mover,
    pub lr: Option<f64>,
    pub momentum: Option<f64>,
    pub start: &'a [f64],
    /// Reached the global minimum (true), a local one (false), or none.
    pub global: Option<bool>,
    /// The longest single step of its path.
    pub longest_step: f64,
    /// The most its loss rose above the lowest it had been: how far it climbed uphill.
    pub largest_climb: f64,
}

/// An adaptive optimizer's steps count as "near lr" up to this multiple of it.
pub const NEAR_LR: f64 = 2.0;

/// The sentences, where runs from one start on `surface` reached both the global and a local
/// minimum; otherwise none.
pub fn why_they_differ(runs: &[Moved], surface: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut starts: Vec<&[f64]> = runs.iter().map(|r| r.start).collect();
    starts.dedup();
    for start in starts {
        let from: Vec<&Moved> =
            runs.iter().filter(|r| r.start == start && r.mover != Mover::Search).collect();
        let escaped: Vec<&&Moved> = from.iter().filter(|r| r.global == Some(true)).collect();
        let trapped: Vec<&&Moved> = from.iter().filter(|r| r.global == Some(false)).collect();
        if escaped.is_empty() || trapped.is_empty() {
            continue;
        }
        let names = |rs: &[&&Moved]| rs.iter().map(|r| r.name).collect::<Vec<_>>().join(", ");
        out.push(format!(
            "Why they differ: from the same start, {} reached the global minimum and {} ended in a local one.",
            names(&escaped),
            names(&trapped)
        ));
        // A velocity is credited with the escape only where plain gradient descent from the same
        // start ended in a local minimum: the start lies in that minimum's valley, so reaching
        // the global one meant crossing the ridge.
        let plain_trapped = trapped.iter().any(|r| r.mover == Mover::Plain);
        let trapped_climb = trapped.iter().map(|r| r.largest_climb).fold(0.0, f64::max);
        for r in escaped.iter().filter(|r| r.mover == Mover::Velocity && plain_trapped) {
            if r.largest_climb > trapped_climb {
                out.push(format!(
                    "{}'s velocity (v ← μ·v + g) kept it moving after the gradient turned against it: its loss climbed \
                     by up to {:.3} on the way, over the ridge, where the trapped runs' climbed by {:.3} at most.",
                    r.name, r.largest_climb, trapped_climb
                ));
            }
        }
        let adaptive: Vec<&&Moved> = trapped
            .iter()
            .copied()
            .filter(|r| r.mover == Mover::Adaptive && r.lr.is_some_and(|lr| r.longest_step <= NEAR_LR * lr))
            .collect();
        if !adaptive.is_empty() {
            let (verb, its, they) = match adaptive.len() {
                1 => ("divides", "its", "it never builds"),
                _ => ("divide", "their", "they never build"),
            };
            out.push(format!(
                "{} {verb} each coordinate's step by the gradient's running size, so {its} steps stay near lr (the \
                 longest: {:.3}) even where the slope is gentle: {they} the speed to cross.",
                names(&adaptive),
                adaptive.iter().map(|r| r.longest_step).fold(0.0, f64::max)
            ));
        }
        if let Some(r) = escaped.iter().find(|r| r.mover == Mover::Velocity && plain_trapped) {
            let lr = r.lr.map_or(String::new(), |lr| format!(" --lr {lr}"));
            let start: Vec<String> = start.iter().map(f64::to_string).collect();
            out.push("Whether a velocity is enough depends on μ and lr; compare:".into());
            // A command to copy: its own line, indented, never broken.
            out.push(format!(
                "  nnopt descent --surface {surface} --start {} --optimizers {o},{o},{o},{o} --momentum \
                 0.5,0.8,0.9,0.99{lr}",
                start.join(","),
                o = r.optimizer
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(
        name: &'a str,
        mover: Mover,
        global: Option<bool>,
        (longest_step, largest_climb): (f64, f64),
    ) -> Moved<'a> {
        Moved {
            name,
            optimizer: name,
            mover,
            lr: Some(0.2),
            momentum: Some(0.9),
            start: &[-6.5],
            global,
            longest_step,
            largest_climb,
        }
    }

    /// The default descent's runs: momentum escapes with long steps, Adam's steps stay near lr.
    #[test]
    fn momentum_escaping_and_adam_trapped_are_told_why_from_their_steps() {
        let runs = [
            run("gd", Mover::Plain, Some(false), (0.4, 0.0)),
            run("momentum", Mover::Velocity, Some(true), (2.1, 5.2)),
            run("nesterov", Mover::Velocity, Some(false), (0.9, 0.3)),
            run("adam", Mover::Adaptive, Some(false), (0.21, 0.1)),
            run("rmsprop", Mover::Adaptive, Some(false), (2.0, 0.0)),
        ];
        let text = why_they_differ(&runs, "cosine").join("\n");
        assert!(
            text.contains("momentum reached the global minimum and gd, nesterov, adam, rmsprop ended"),
            "{text}"
        );
        assert!(text.contains("momentum's velocity") && text.contains("by up to 5.200 on the way"), "{text}");
        assert!(text.contains("climbed by 0.300 at most"), "{text}");
        // rmsprop's longest step (2.0) is more than twice lr: not said to stay near lr.
        assert!(
            text.contains("adam divides each coordinate's step") && !text.contains("rmsprop divide"),
            "{text}"
        );
        assert!(text.contains("--surface cosine --start -6.5 --optimizers momentum,momentum,momentum,momentum --momentum 0.5,0.8,0.9,0.99 --lr 0.2"), "{text}");
    }

    #[test]
    fn runs_that_all_end_alike_or_start_apart_are_not_contrasted() {
        let all_local = [
            run("gd", Mover::Plain, Some(false), (0.4, 0.0)),
            run("adam", Mover::Adaptive, Some(false), (0.2, 0.0)),
        ];
        assert!(why_they_differ(&all_local, "cosine").is_empty());
        let (a, b) = ([-6.5], [3.0]);
        let apart = [
            Moved { start: &a, ..run("gd", Mover::Plain, Some(false), (0.4, 0.0)) },
            Moved { start: &b, ..run("momentum", Mover::Velocity, Some(true), (2.0, 3.0)) },
        ];
        assert!(why_they_differ(&apart, "cosine").is_empty());
        // A velocity is not credited where gd from the same start also reached the global minimum
        // (the start was not in the local valley), nor where it climbed no higher than the trapped.
        let no_ridge = [
            run("gd", Mover::Plain, Some(true), (0.4, 0.0)),
            run("nesterov", Mover::Velocity, Some(false), (0.9, 0.3)),
            run("momentum", Mover::Velocity, Some(true), (2.0, 3.0)),
        ];
        let text = why_they_differ(&no_ridge, "cosine").join(" ");
        assert!(text.contains("nesterov ended in a local one") && !text.contains("velocity"), "{text}");
        // A velocity that escaped climbing no higher than the trapped runs is not credited.
        let short = [
            run("gd", Mover::Plain, Some(false), (0.4, 0.5)),
            run("momentum", Mover::Velocity, Some(true), (2.0, 0.3)),
        ];
        assert!(!why_they_differ(&short, "cosine").join(" ").contains("carried it over"));
    }
}

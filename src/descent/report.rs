//! How a `descent` command tells what happened: the surface with its formula, gradient and
//! domain, the update rules in play, a table of runs, and one sentence per outcome that claims
//! no more than the verdict supports; `--list`; the trajectories as CSV.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::run::Run;
use super::surface::{Surface, SurfaceInfo};
use super::{DescentReport, Optimizer};

/// A point as text: `-1.8260` or `(1.0000, 1.0000)`; past ±1e5 in scientific notation.
pub fn fmt_point(p: &[f64]) -> String {
    let one = |x: f64| {
        if x.abs() >= 1e5 {
            format!("{x:.3e}")
        } else {
            // −0.00001 would print as "-0.0000": a sign that says nothing.
            format!("{:.4}", if x.abs() < 5e-5 { 0.0 } else { x })
        }
    };
    let parts: Vec<String> = p.iter().map(|&x| one(x)).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// A learning rate as typed: 0.2 as `0.2`, 1e308 as `1e308` (not 309 digits).
pub fn fmt_rate(lr: f64) -> String {
    if lr != 0.0 && (lr.abs() >= 1e5 || lr.abs() < 1e-4) {
        format!("{lr:e}")
    } else {
        lr.to_string()
    }
}

/// A loss for the table: fixed-point where that is readable, scientific otherwise.
pub fn fmt_loss(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

/// The run's name in sentences and legends: the optimizer, with its rate and μ where the same
/// optimizer runs with other settings too.
pub fn run_label(run: &Run, runs: &[Run]) -> String {
    let twin =
        runs.iter().any(|o| o.optimizer == run.optimizer && (o.lr, o.momentum) != (run.lr, run.momentum));
    if !twin {
        return run.optimizer.name().to_string();
    }
    let mut settings = Vec::new();
    if let Some(lr) = run.lr {
        settings.push(format!("lr {}", fmt_rate(lr)));
    }
    if let Some(m) = run.momentum {
        settings.push(format!("μ {m}"));
    }
    format!("{} ({})", run.optimizer.name(), settings.join(", "))
}

/// What the runs show, one sentence per outcome, runs with the same outcome together.
pub fn summarize(runs: &[Run]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for run in runs {
        let said = &run.outcome;
        let name = run_label(run, runs);
        match groups.iter_mut().find(|(o, _)| o == said) {
            Some((_, names)) if !names.contains(&name) => names.push(name),
            Some(_) => {}
            None => groups.push((said.clone(), vec![name])),
        }
    }
    let lines: Vec<String> =
        groups.iter().map(|(outcome, names)| format!("{}: {outcome}.", names.join(", "))).collect();
    lines.join("\n")
}

/// The surface's header: formula, gradient, domain, minima, lesson.
fn render_surface(text: &mut String, s: &SurfaceInfo) {
    let domain = s.domain.describe();
    let _ = writeln!(text, "surface {}: f = {} on {domain}", s.name, s.formula);
    let _ = writeln!(text, "  gradient: {}", s.gradient);
    for m in &s.minima {
        let _ = writeln!(
            text,
            "  {} minimum on {domain}: {} (f = {:.6})",
            m.kind(),
            fmt_point(&m.point),
            m.value
        );
    }
    if s.minima.is_empty() {
        let _ = writeln!(
            text,
            "  no minimum inside {domain}: f falls without bound, so on the box it is lowest on an edge"
        );
    }
    let _ = writeln!(text, "  {}", s.lesson);
}

/// The rules of `optimizers`, each once, in order.
fn render_rules(text: &mut String, optimizers: impl Iterator<Item = Optimizer>) {
    let mut seen = Vec::new();
    text.push_str("update rules (g = ∇f(x), t = step):\n");
    for o in optimizers {
        if !seen.contains(&o) {
            let _ = writeln!(text, "  {:<14} {}", o.name(), o.rule());
            if let Some(words) = o.in_words() {
                for line in crate::text::wrap(words, crate::text::WIDTH - 17).lines() {
                    let _ = writeln!(text, "  {:<14}   {line}", "");
                }
            }
            seen.push(o);
        }
    }
}

/// The text of a `descent` command.
pub fn render(report: &DescentReport) -> String {
    let mut text = String::new();
    render_surface(&mut text, &report.surface);
    text.push('\n');
    render_rules(&mut text, report.runs.iter().map(|r| r.optimizer));
    let _ = writeln!(
        text,
        "\n{:<14} {:>8} {:>5} {:>18} {:>20} {:>13} {:>6}  {:<10} reached",
        "optimizer", "lr", "μ", "start", "final point", "final loss", "steps", "status"
    );
    for r in &report.runs {
        let _ = writeln!(
            text,
            "{:<14} {:>8} {:>5} {:>18} {:>20} {:>13} {:>6}  {:<10} {}",
            r.optimizer.name(),
            r.lr.map_or("-".to_string(), fmt_rate),
            r.momentum.map_or("-".to_string(), |m| m.to_string()),
            fmt_point(&r.start),
            fmt_point(&r.end.point),
            fmt_loss(r.end.loss),
            r.end.steps,
            r.end.status.name(),
            r.end.minimum.as_ref().map_or("-", |m| m.kind())
        );
    }
    let _ = writeln!(text, "\n{}", report.summary);
    text
}

/// `--list`: every surface with its formula, domain and known minima.
pub fn list() -> Result<Listing> {
    Ok(Listing {
        surfaces: Surface::ALL.iter().map(|s| s.info()).collect::<Result<_>>()?,
        optimizers: Optimizer::ALL
            .iter()
            .map(|&o| OptimizerInfo { name: o.name(), rule: o.rule() })
            .collect(),
    })
}

/// What `--list` prints: the surfaces and the optimizers with their rules.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub surfaces: Vec<SurfaceInfo>,
    pub optimizers: Vec<OptimizerInfo>,
}

/// An optimizer and its update rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OptimizerInfo {
    pub name: &'static str,
    pub rule: &'static str,
}

/// The text of `--list`.
pub fn render_list(listing: &Listing) -> String {
    let mut text = String::new();
    for s in &listing.surfaces {
        render_surface(&mut text, s);
        let start: Vec<String> = s.default_start.iter().map(f64::to_string).collect();
        let _ = writeln!(
            text,
            "  defaults: --start {} --lr {} --steps {}\n",
            start.join(","),
            s.default_lr,
            s.default_steps
        );
    }
    render_rules(&mut text, listing.optimizers.iter().filter_map(|o| Optimizer::parse(o.name).ok()));
    text
}

/// The trajectories in long form (`--csv`): one row per point of every run.
pub fn trajectories_csv(report: &DescentReport) -> String {
    let coords: Vec<String> = (1..=report.surface.dimensions).map(|i| format!("x{i}")).collect();
    let mut csv = format!("run,optimizer,lr,momentum,step,{},loss\n", coords.join(","));
    for (i, r) in report.runs.iter().enumerate() {
        let lr = r.lr.map_or(String::new(), |v| v.to_string());
        let m = r.momentum.map_or(String::new(), |m| m.to_string());
        for (step, (p, loss)) in r.trajectory.iter().zip(&r.losses).enumerate() {
            let p: Vec<String> = p.iter().map(f64::to_string).collect();
            let _ = writeln!(csv, "{i},{},{lr},{m},{step},{},{loss}", r.optimizer.name(), p.join(","));
        }
    }
    csv
}

/// Where `descent --csv` writes.
pub fn write_csv(path: &Path, report: &DescentReport) -> Result<()> {
    crate::fsutil::write_atomic(path, trajectories_csv(report).as_bytes())
}

impl crate::report::Report for Listing {
    fn text(&self) -> String {
        render_list(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_print_without_meaningless_signs_or_309_digits() {
        assert_eq!(fmt_point(&[-0.00001]), "0.0000");
        assert_eq!(fmt_point(&[1.0, -2.5]), "(1.0000, -2.5000)");
        assert_eq!(fmt_point(&[1.5e8]), "1.500e8");
        assert_eq!(fmt_rate(1e308), "1e308");
        assert_eq!(fmt_rate(0.2), "0.2");
        assert_eq!(fmt_loss(25.0), "25.000000");
        assert_eq!(fmt_loss(1.5e-9), "1.5000e-9");
    }
}

//! A sweep's pictures: `sweep --plot` (validation accuracy against each hyperparameter, and
//! halving's rungs) and the same accuracy panels drawn from a journal alone (`nnopt lab`).

use super::report::SweepReport;
use super::space::{flag, Domain, Param};
use super::trial::Status;

/// `sweep --plot`: validation accuracy against each hyperparameter (log axis for a `:log`
/// range), the best trial ringed; for halving, every configuration's accuracy per rung.
pub fn figure(report: &SweepReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let best = report.best.as_ref().map(|b| b.trial);
    let mut panels = Vec::new();
    for (i, (name, domain)) in report.space.dims.iter().enumerate() {
        // Lists of words (widths, optimizers) go on a category axis: index k is choice k.
        let choices = match domain {
            Domain::Hidden(_) | Domain::Optimizers(_) => domain.values(1),
            _ => Vec::new(),
        };
        let x = |p: &Param| match p {
            Param::Float(v) => *v,
            Param::Int(v) => *v as f64,
            other => choices.iter().position(|c| c == other).map_or(f64::NAN, |k| k as f64),
        };
        let points: Vec<Scored> = report
            .trials
            .iter()
            .map(|t| Scored {
                x: x(&t.config.0[i].1),
                accuracy: t.validation_accuracy,
                epochs: t.epochs,
                best: Some(t.trial) == best,
                interrupted: t.status == Status::Interrupted,
            })
            .collect();
        let log_x = matches!(domain, Domain::Range { log: true, .. });
        panels.push(accuracy_panel(name, choices.iter().map(Param::text).collect(), log_x, &points));
    }
    if let Some(first) = report.rungs.first() {
        let mut series = Vec::new();
        for &(t, _) in &first.results {
            // A failed run has no accuracy: it is left out, not drawn at 0 %.
            let points: Vec<(f64, f64)> = report
                .rungs
                .iter()
                .filter_map(|r| {
                    r.results
                        .iter()
                        .find(|x| x.0 == t)
                        .and_then(|x| x.1)
                        .map(|a| (r.epochs as f64, 100.0 * a))
                })
                .collect();
            series.push(Series::new(format!("trial {t}"), points, Style::LinePoints));
        }
        panels.push(Panel::Chart {
            x_categories: Vec::new(),
            title: "successive halving: accuracy per rung (the best half goes on)".into(),
            x_label: "epochs trained (log scale)".into(),
            y_label: "validation accuracy (%)".into(),
            log_x: true,
            log_y: false,
            series,
            background: Vec::new(),
        });
    }
    Figure::stacked(900, 340, panels)
}

/// [`figure`]'s accuracy panels from a journal alone (`nnopt lab` draws a sweep's trials as they
/// finish, and any journal opened): validation accuracy against each hyperparameter, one series
/// per epoch count, trials with no accuracy at 0 %, the best ringed. The journal does not say
/// which ranges were `:log`: a numeric column spanning 100× or more is drawn on a log axis.
pub fn journal_figure(table: &super::journal::Table) -> crate::plot::Figure {
    let accuracy = |row: &[String]| -> Option<f64> {
        // At chance, the accuracy measured is no score (as `Trial::validation_accuracy`).
        let chance = table.cell(row, "status") == Some(Status::Chance.name());
        table.cell(row, "validation_accuracy")?.parse::<f64>().ok().filter(|_| !chance)
    };
    let epochs = |row: &[String]| table.cell(row, "epochs").and_then(|e| e.parse().ok()).unwrap_or(0);
    let best = table
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, accuracy(r)?)))
        .fold(
            None,
            |b: Option<(usize, f64)>, (i, a)| if b.is_some_and(|(_, x)| x >= a) { b } else { Some((i, a)) },
        )
        .map(|(i, _)| i);
    let panels = (0..table.hyperparameters())
        .map(|c| {
            let numbers: Option<Vec<f64>> = table.rows.iter().map(|r| r[c].parse::<f64>().ok()).collect();
            let mut choices: Vec<String> = Vec::new();
            if numbers.is_none() {
                for r in &table.rows {
                    if !choices.contains(&r[c]) {
                        choices.push(r[c].clone());
                    }
                }
            }
            let log_x = numbers.as_ref().is_some_and(|v| {
                let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                lo > 0.0 && hi / lo >= 100.0
            });
            let points: Vec<Scored> = table
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| Scored {
                    x: match &numbers {
                        Some(v) => v[i],
                        None => choices.iter().position(|v| *v == r[c]).map_or(f64::NAN, |k| k as f64),
                    },
                    accuracy: accuracy(r),
                    epochs: epochs(r),
                    best: Some(i) == best,
                    // A journal holds no interrupted trial: those train again.
                    interrupted: false,
                })
                .collect();
            accuracy_panel(&table.columns[c], choices.clone(), log_x, &points)
        })
        .collect();
    crate::plot::Figure::stacked(900, 340, panels)
}

/// One trial on one hyperparameter's axis, for [`accuracy_panel`].
struct Scored {
    x: f64,
    /// `None`: the trial failed (it diverged, died, stalled or scored at chance).
    accuracy: Option<f64>,
    epochs: usize,
    best: bool,
    /// Stopped by a signal: not a failure, so not drawn at 0 %.
    interrupted: bool,
}

/// Validation accuracy against one hyperparameter, the one picture of [`figure`] and
/// [`journal_figure`]: one series per epoch count (a trial trained 1 epoch is not comparable
/// with one trained 8, and the legend says which is which), trials with no accuracy drawn at
/// 0 %, marked, not left out, the best ringed.
fn accuracy_panel(name: &str, categories: Vec<String>, log_x: bool, points: &[Scored]) -> crate::plot::Panel {
    use crate::plot::{Panel, Series, Style};
    let mut counts: Vec<usize> = points.iter().filter(|p| p.accuracy.is_some()).map(|p| p.epochs).collect();
    counts.sort_unstable();
    counts.dedup();
    let mut series: Vec<Series> = counts
        .iter()
        .map(|&e| {
            let drawn =
                points.iter().filter(|p| p.epochs == e).filter_map(|p| Some((p.x, 100.0 * p.accuracy?)));
            let label = match counts.len() {
                1 => "trials".to_string(),
                _ => format!("trials, {e} epoch(s)"),
            };
            Series::new(label, drawn.collect(), Style::Points)
        })
        .collect();
    let failed: Vec<(f64, f64)> =
        points.iter().filter(|p| p.accuracy.is_none() && !p.interrupted).map(|p| (p.x, 0.0)).collect();
    if !failed.is_empty() {
        series.push(Series::new("trials with no accuracy, drawn at 0 %", failed, Style::Highlight));
    }
    let top = points.iter().filter(|p| p.best).filter_map(|p| Some((p.x, 100.0 * p.accuracy?))).collect();
    series.push(Series::new("best", top, Style::Highlight));
    Panel::Chart {
        x_categories: categories,
        title: format!("validation accuracy vs {}", flag(name)),
        x_label: format!("{}{}", flag(name), if log_x { " (log scale)" } else { "" }),
        y_label: "validation accuracy (%)".into(),
        log_x,
        log_y: false,
        series,
        background: Vec::new(),
    }
}

//! `nnopt depth`'s text and picture, rendered from its report: a table of the networks, the
//! gradient's size at each layer, the units that never turn on, and the judge's findings.

use super::{describe_widths, DepthReport, Init};
use crate::text::{wrap, WIDTH};

/// The steps the gradient sizes are averaged over: `--probe-steps`, or fewer where a run was
/// shorter (every network takes the same steps).
fn probed(report: &DepthReport) -> usize {
    report.outcomes.iter().map(|o| o.probed_steps).min().unwrap_or(report.probe_steps)
}

/// The comparison as text.
pub fn render(report: &DepthReport) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let limit = report.limit.map_or(String::new(), |n| format!(" (its first {n} training images)"));
    line(format!(
        "depth: the notebook's plain SGD (lr {}, batch {}, {} epoch(s)) on {}{limit}, every network from seed {}",
        report.lr, report.batch, report.epochs, report.data, report.seed
    ));
    line(format!(
        "{:<22} {:<16} {:<8} {:>4}  {:>10}  {:>9}  {:>7}",
        "network", "layers", "init", "μ", "final loss", "test acc", "seconds"
    ));
    for o in &report.outcomes {
        let init = match o.variant.init {
            Init::Pytorch => "PyTorch",
            Init::He => "He",
        };
        line(format!(
            "{:<22} {:<16} {:<8} {:>4}  {:>10.4}  {:>8.1}%  {:>7.1}",
            o.variant.name,
            describe_widths(&o.variant.widths),
            init,
            o.variant.momentum,
            o.final_loss,
            100.0 * o.test_accuracy,
            o.seconds
        ));
    }
    line(format!(
        "(chance: loss ln {} = {:.4}, the loss of equal probabilities; final loss: the mean over the last \
         epoch's steps, each taken before its update)",
        report.classes, report.chance_loss
    ));
    line(String::new());
    line(format!(
        "the gradient's size at each layer, ‖∂L/∂W‖ over the first {} steps (fc1 first):",
        probed(report)
    ));
    for o in &report.outcomes {
        let norms: Vec<String> = o.gradient_norms.iter().map(|n| format!("{n:.1e}")).collect();
        line(format!("  {:<22} {}", o.variant.name, norms.join(" ")));
    }
    line("hidden units that no probe image turns on, per layer:".into());
    for o in &report.outcomes {
        let dead: Vec<String> = o.dead_units.iter().map(|[d, w]| format!("{d}/{w}")).collect();
        line(format!("  {:<22} {}", o.variant.name, dead.join(" ")));
    }
    line(String::new());
    line("what it shows:".into());
    for finding in &report.findings {
        let text = wrap(&finding.sentence(), WIDTH - 2);
        line(format!("- {}", text.replace('\n', "\n  ")));
    }
    line(
        "words: vanishing gradient, He initialisation, dead unit, chance (nnopt glossary TERM explains each)"
            .into(),
    );
    out
}

/// `depth --plot`: the gradient's size per layer for each network (log scale).
pub fn figure(report: &DepthReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let series = report
        .outcomes
        .iter()
        .map(|o| {
            let points = o.gradient_norms.iter().enumerate().map(|(i, n)| ((i + 1) as f64, *n)).collect();
            Series::new(o.variant.name.clone(), points, Style::LinePoints)
        })
        .collect();
    let accuracy = report
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| {
            Series::new(o.variant.name.clone(), vec![(i as f64, 100.0 * o.test_accuracy)], Style::Highlight)
        })
        .collect();
    Figure::stacked(
        900,
        380,
        vec![
            Panel::Chart {
                x_categories: Vec::new(),
                title: format!("The gradient's size at each layer (first {} steps)", probed(report)),
                x_label: "layer (fc1 = 1)".into(),
                y_label: "‖∂L/∂W‖ (log scale)".into(),
                log_x: false,
                log_y: true,
                series,
                background: Vec::new(),
            },
            Panel::Chart {
                x_categories: report.outcomes.iter().map(|o| o.variant.name.clone()).collect(),
                title: format!(
                    "Test accuracy after {} epoch(s) (chance: {:.0} %)",
                    report.epochs,
                    100.0 / report.classes as f64
                ),
                x_label: "network".into(),
                y_label: "test accuracy (%)".into(),
                log_x: false,
                log_y: false,
                series: accuracy,
                background: Vec::new(),
            },
        ],
    )
}

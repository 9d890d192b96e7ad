//! The perceptron's transcript, rendered from its report: what the notebook's cells print, in
//! their order, with the numbers the run computed — the model, the data, each printed epoch,
//! why the loss rose (where it did), the predictions after training, the test — and its
//! pictures and CSV.

use super::{PerceptronReport, NUM_INPUTS};
use crate::judge::rise as explain;
use crate::repr::{float_repr, tuple_repr, TensorValues};

/// What `nnopt perceptron` prints: a screen's summary by default, the notebook's transcript
/// with `--full`.
pub fn render(report: &PerceptronReport) -> String {
    if report.full {
        render_full(report)
    } else {
        render_short(report)
    }
}

/// A screen's summary: the start, the rule, one line per printed epoch, the judge's sentences
/// in short lines, the fit and the test — the same numbers as the transcript, fewer lines.
fn render_short(report: &PerceptronReport) -> String {
    use crate::text::{list, wrap_comment, WIDTH};
    let mut lines: Vec<String> = Vec::new();
    let mut line = |s: String| lines.extend(wrap_comment(&s, WIDTH));
    let initial = &report.initial;
    let epochs = report.history.len();
    let samples = report.train.x.shape().first().copied().unwrap_or(0);
    line(format!(
        "# the notebook's perceptron: ŷ = relu(x·w + b) on {NUM_INPUTS} inputs, seed {}, lr {}",
        report.seed,
        float_repr(report.lr)
    ));
    line(format!(
        "# start: w = {}, b = {:.4}; loss {:.4} on {samples} training samples (--full: X, y)",
        list(&flat(&initial.w), 4),
        flat(&initial.b)[0],
        initial.loss
    ));
    start_and_rule(initial, epochs, samples).into_iter().for_each(&mut line);
    line("#   (ReLU's derivative is left out, as the notebook's rule does)".into());
    let every = report.print_every;
    line(format!("{:>6}  {:>12}  {:<30}  {:>8}", "epoch", "loss", "w", "b"));
    for record in report.history.iter().filter(|r| is_printed(r.epoch, epochs, every)) {
        line(format!(
            "{:>6}  {:>12.6}  {:<30}  {:>8.4}",
            record.epoch,
            record.loss,
            list(&flat(&record.w), 4),
            flat(&record.b)[0]
        ));
    }
    if every > 1 {
        line(format!("# (every {every}th epoch printed; --every 1 prints all, --full as the notebook does)"));
    }
    report.life.note().into_iter().for_each(&mut line);
    crate::judge::unit::describe_rises(&report.rises).into_iter().for_each(&mut line);
    if let Some(rise) = &report.loss_rise {
        explain::describe_rise(rise, report.lr).into_iter().for_each(&mut line);
    }
    line(format!("# after training, on the {samples} training samples:"));
    line(format!("#   ŷ {}", list(&flat(&report.train_predictions), 2)));
    line(format!("#   y {}", list(&flat(&report.train.y), 2)));
    let test = &report.test;
    line(format!("# test, {} new samples: loss {:.4}", test.y.flat().len(), test.loss));
    line(format!("#   ŷ {}", list(&flat(&test.predictions), 2)));
    line(format!("#   y {}", list(&flat(&test.y), 2)));
    line(explain::describe_test(&report.test_comparison, report.dead_from_epoch.is_some()));
    graph_lines(report).into_iter().for_each(&mut line);
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Why every prediction may start at 0 (from the numbers themselves), and the rule the passes
/// apply: the same lines in the summary and the transcript.
fn start_and_rule(initial: &super::Initial, epochs: usize, samples: i64) -> Vec<String> {
    let mut lines = Vec::new();
    if initial.largest_pre_activation <= 0.0 {
        lines.push(format!(
            "# every prediction is 0: each pre-activation x·w + b is ≤ 0 at these initial weights (the \
             largest is {:.4}), and relu(z) = 0 for z ≤ 0",
            initial.largest_pre_activation
        ));
    }
    lines.push(format!(
        "# training: {epochs} pass(es) of the delta rule over the {samples} samples, for each (x, y) in turn:"
    ));
    lines.push("#   ŷ = relu(x·w + b);  w ← w + lr·(y − ŷ)·x;  b ← b + lr·(y − ŷ)".into());
    lines
}

/// `--graph`: the autograd nodes the notebook's form piles up behind w.
fn graph_lines(report: &PerceptronReport) -> Vec<String> {
    let Some(growth) = &report.notebook_graph else { return Vec::new() };
    let mut lines =
        vec!["# the notebook's form (w, b require grad; w = w + …) keeps every update in w's graph:".into()];
    for g in growth {
        lines.push(format!(
            "after {:>3} update(s): {:>4} autograd nodes behind w (nnopt's in-place form: {})",
            g.updates, g.nodes, g.nnopt_nodes
        ));
    }
    lines
}

/// The notebook-style transcript of `report` (`--full`): what its cells print, in their order.
fn render_full(report: &PerceptronReport) -> String {
    // The name a report keeps is one `device::name` gave.
    let device = crate::device::from_name(&report.device).unwrap_or(tch::Device::Cpu);
    let repr = |v: &TensorValues| v.repr(device);
    // A 0-d float32 tensor as PyTorch prints it (`tensor(2782.1406)`).
    let scalar_repr = |v: f64| TensorValues::Number(v).repr(device);
    let mut lines: Vec<String> = Vec::new();
    let mut line = |s: String| lines.push(s);
    let initial = &report.initial;
    let (x, y) = (&report.train.x, &report.train.y);
    let epochs = report.history.len();
    let samples = x.shape().first().copied().unwrap_or(0);

    line("# model.w, model.b, model.lr".into());
    line(tuple_repr(&[repr(&initial.w), repr(&initial.b), float_repr(report.lr)]));
    line("# training data: X, y".into());
    line(repr(x));
    line(repr(y));
    line("# before training: predictions, y, loss".into());
    line(tuple_repr(&[repr(&initial.predictions), repr(y), scalar_repr(initial.loss)]));
    start_and_rule(initial, epochs, samples).into_iter().for_each(&mut line);
    line(
        "#   (ReLU's derivative is left out, as the notebook's rule does: w still moves where ŷ = 0)".into(),
    );
    let every = report.print_every;
    if every > 1 {
        line(format!("# (printed: {}; --every 1 prints all)", printed_epochs(epochs, every)));
    }
    for record in report.history.iter().filter(|r| is_printed(r.epoch, epochs, every)) {
        if every > 1 {
            line(format!("# epoch {}", record.epoch));
        }
        line(format!("Parameters: {} {}", repr(&record.w), repr(&record.b)));
        line(format!("Squared loss:, {:.6}", record.loss));
    }
    report.life.note().into_iter().for_each(&mut line);
    crate::judge::unit::describe_rises(&report.rises).into_iter().for_each(&mut line);
    if let Some(rise) = &report.loss_rise {
        explain::describe_rise(rise, report.lr).into_iter().for_each(&mut line);
    }
    line("# after training: predictions, y".into());
    line(tuple_repr(&[repr(&report.train_predictions), repr(y)]));
    let test = &report.test;
    line("# test data: X, y".into());
    line(repr(&test.x));
    line(repr(&test.y));
    line("# test: predictions, y, loss".into());
    line(tuple_repr(&[repr(&test.predictions), repr(&test.y)]));
    line(scalar_repr(test.loss));
    line(explain::describe_test(&report.test_comparison, report.dead_from_epoch.is_some()));
    graph_lines(report).into_iter().for_each(&mut line);
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Whether `epoch` of `epochs` is printed with `--every`: the first, the last, every Nth.
fn is_printed(epoch: usize, epochs: usize, every: usize) -> bool {
    epoch == 1 || epoch == epochs || epoch.is_multiple_of(every)
}

/// The printed epochs, listed (the first few and the last when there are many).
fn printed_epochs(epochs: usize, every: usize) -> String {
    let printed: Vec<usize> = (1..=epochs).filter(|&e| is_printed(e, epochs, every)).collect();
    let text: Vec<String> = printed.iter().map(usize::to_string).collect();
    match text.len() {
        0..=6 => text.join(", "),
        n => format!("{}, … {}", text[..4].join(", "), text[n - 1]),
    }
}

/// A tensor's values, flattened (`[[1.0], [2.0]]` → `[1.0, 2.0]`).
fn flat(values: &TensorValues) -> Vec<f64> {
    values.flat()
}

/// The real loss curve and, where the loss rose, each replayed epoch's loss beside it: the same
/// pass from the same weights with ReLU's derivative respected (and with the largest step
/// capped, where one was above 2) — what the text's explanation rests on, drawn.
fn loss_series(report: &PerceptronReport, loss: Vec<(f64, f64)>) -> Vec<crate::plot::Series> {
    use crate::plot::{Series, Style};
    let mut series = vec![Series::new("training loss", loss, Style::Line)];
    if let Some(rise) = &report.loss_rise {
        let points = |pick: fn(&crate::judge::rise::Replayed) -> Option<f64>| -> Vec<(f64, f64)> {
            rise.replayed.iter().filter_map(|r| Some((r.epoch as f64, pick(r)?))).collect()
        };
        let derivative = points(|r| Some(r.with_derivative));
        if !derivative.is_empty() {
            series.push(Series::new(
                "replayed with ReLU's derivative (from the real weights)",
                derivative,
                Style::Points,
            ));
        }
        let capped = points(|r| r.with_cap);
        if !capped.is_empty() {
            series.push(Series::new("replayed with the largest step capped", capped, Style::Points));
        }
    }
    series
}

/// `perceptron --plot`: the squared loss per epoch (log scale), and w₁, w₂, w₃, b per epoch.
pub fn figure(report: &PerceptronReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let loss: Vec<(f64, f64)> = report.history.iter().map(|r| (r.epoch as f64, r.loss)).collect();
    let mut params: Vec<Series> = (0..NUM_INPUTS as usize)
        .map(|i| {
            let points = report.history.iter().map(|r| (r.epoch as f64, flat(&r.w)[i])).collect();
            Series::new(format!("w{}", i + 1), points, Style::Line)
        })
        .collect();
    params.push(Series::new(
        "b",
        report.history.iter().map(|r| (r.epoch as f64, flat(&r.b)[0])).collect(),
        Style::Line,
    ));
    Figure::stacked(
        900,
        380,
        vec![
            Panel::Chart {
                x_categories: Vec::new(),
                title: format!("Perceptron: squared loss per epoch (lr {})", report.lr),
                x_label: "epoch".into(),
                y_label: "mean (y − ŷ)²/2 (log scale)".into(),
                log_x: false,
                log_y: true,
                series: loss_series(report, loss),
                background: Vec::new(),
            },
            Panel::Chart {
                x_categories: Vec::new(),
                title: "Parameters per epoch".into(),
                x_label: "epoch".into(),
                y_label: "value".into(),
                log_x: false,
                log_y: false,
                series: params,
                background: Vec::new(),
            },
        ],
    )
}

/// `perceptron --csv`: one row per epoch with the loss and the parameters.
pub fn history_csv(report: &PerceptronReport) -> String {
    let mut csv = String::from("epoch,loss,w1,w2,w3,b\n");
    for r in &report.history {
        let w: Vec<String> = flat(&r.w).iter().map(f64::to_string).collect();
        csv.push_str(&format!("{},{},{},{}\n", r.epoch, r.loss, w.join(","), flat(&r.b)[0]));
    }
    csv
}

#[cfg(test)]
mod tests {
    use crate::perceptron::{run, PerceptronConfig};
    use crate::report::Report;

    /// A report keeps the device its tensors were on, and its text says so as PyTorch does
    /// (`device='cuda:0'`), whatever machine renders it: here a CPU run's report, relabelled.
    #[test]
    fn the_text_names_the_device_the_run_used() {
        let _rng = crate::test_rng();
        let config = PerceptronConfig { epochs: 2, ..Default::default() };
        let mut report = run(&config, tch::Device::Cpu, &crate::observe::Quiet).unwrap();
        assert!(!report.text().contains("device="), "a CPU run's text names no device");
        report.device = "cuda:0".into();
        let text = report.text();
        let tensors = text.matches("tensor(").count();
        assert_eq!(text.matches("device='cuda:0'").count(), tensors, "every tensor names cuda:0:\n{text}");
    }
}

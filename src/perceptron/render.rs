//! The perceptron's transcript, rendered from its report: what the notebook's cells print, in
//! their order, with the numbers the run computed — the model, the data, each printed epoch,
//! why the loss rose (where it did), the predictions after training, the test.

use super::{explain, is_printed, printed_epochs, PerceptronReport};
use crate::repr::{float_repr, tuple_repr, TensorValues};

/// A 0-d float32 tensor as PyTorch prints it (`tensor(2782.1406)`).
fn scalar_repr(v: f64) -> String {
    TensorValues::Number(v).repr()
}

/// The notebook-style transcript of `report`.
pub fn render(report: &PerceptronReport) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = |s: String| lines.push(s);
    let initial = &report.initial;
    let (x, y) = (&report.train.x, &report.train.y);
    let epochs = report.history.len();
    let samples = x.shape().first().copied().unwrap_or(0);

    line("# model.w, model.b, model.lr".into());
    line(tuple_repr(&[initial.w.repr(), initial.b.repr(), float_repr(report.lr)]));
    line("# training data: X, y".into());
    line(x.repr());
    line(y.repr());
    line("# before training: predictions, y, loss".into());
    line(tuple_repr(&[initial.predictions.repr(), y.repr(), scalar_repr(initial.loss)]));
    // Why every prediction may start at 0, from the numbers themselves.
    if initial.largest_pre_activation <= 0.0 {
        line(format!(
            "# every prediction is 0: each pre-activation x·w + b is ≤ 0 at these initial weights (the \
             largest is {:.4}), and relu(z) = 0 for z ≤ 0",
            initial.largest_pre_activation
        ));
    }
    line(format!("# training: {epochs} pass(es) of the delta rule over the {samples} samples, for each (x, y) in turn:"));
    line("#   ŷ = relu(x·w + b);  w ← w + lr·(y − ŷ)·x;  b ← b + lr·(y − ŷ)".into());
    line("#   (ReLU's derivative is left out, as the notebook's rule does: w still moves where ŷ = 0)".into());
    let every = report.print_every;
    if every > 1 {
        line(format!("# (printed: {}; --every 1 prints all)", printed_epochs(epochs, every)));
    }
    for record in report.history.iter().filter(|r| is_printed(r.epoch, epochs, every)) {
        if every > 1 {
            line(format!("# epoch {}", record.epoch));
        }
        line(format!("Parameters: {} {}", record.w.repr(), record.b.repr()));
        line(format!("Squared loss:, {:.6}", record.loss));
    }
    if let Some(rise) = &report.loss_rise {
        explain::describe_rise(rise, report.lr).into_iter().for_each(&mut line);
    }
    line("# after training: predictions, y".into());
    line(tuple_repr(&[report.train_predictions.repr(), y.repr()]));
    let test = &report.test;
    line("# test data: X, y".into());
    line(test.x.repr());
    line(test.y.repr());
    line("# test: predictions, y, loss".into());
    line(tuple_repr(&[test.predictions.repr(), test.y.repr()]));
    line(scalar_repr(test.loss));
    line(explain::describe_test(&report.test_comparison, report.dead_from_epoch.is_some()));
    if let Some(growth) = &report.notebook_graph {
        line("# the notebook's form (w, b require grad; w = w + …) keeps every update in w's graph:".into());
        for g in growth {
            line(format!(
                "after {:>3} update(s): {:>4} autograd nodes behind w (nnopt's in-place form: {})",
                g.updates, g.nodes, g.nnopt_nodes
            ));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

//! The MLP walk-through's transcript, rendered from its report: the notebook's cells In [2]–In
//! [17] in order, each with what PyTorch printed and what it means.

use super::MlpReport;
use crate::graph::Graph;

/// The notebook-style transcript of `report`.
pub fn render(report: &MlpReport) -> String {
    let p = &report.printed;
    let step = &report.step;
    let mut lines: Vec<String> = Vec::new();
    let mut line = |s: String| lines.push(s);

    line("# print(net)".into());
    line(p.network.clone());
    line("# input = torch.randn(1, 1, 28, 28); print(input.shape); print(net(input))".into());
    line(p.input_size.clone());
    line(p.first_output.clone());
    line("# params = list(net.parameters()); len(params); params[0]; params[0].size()".into());
    line(p.parameter_count.to_string());
    if report.full {
        line(p.fc1_weight.clone());
    } else {
        line("# (params[0], fc1.weight: --full prints it)".into());
    }
    line(p.fc1_weight_size.clone());

    line("# net.zero_grad(); output.backward(torch.randn(1, 10))".into());
    line(format!(
        "# it left ∂(Σ output·g)/∂θ in every .grad (g: the random tensor); fc2.bias.grad is g itself, since \
         ∂output/∂fc2.bias = 1:\n{}",
        p.fc2_bias_grad
    ));
    line(
        "# .grad accumulates across backward passes, so net.zero_grad() clears these before the loss's own \
         backward pass"
            .into(),
    );

    line("# target = torch.randn(10); target.view(1, -1); loss = nn.MSELoss()(net(input), target)".into());
    line(p.target.clone());
    line(p.target_row.clone());
    line(p.loss.clone());

    line("# print(loss.grad_fn); print(loss.grad_fn.next_functions[0][0]);".into());
    line("# print(loss.grad_fn.next_functions[0][0].next_functions[0][0])".into());
    for name in &report.grad_fn_chain {
        line(name.as_ref().map_or("None".to_string(), |n| format!("<{n} object>")));
    }
    line(explain_in8(&report.graph));

    line("# net.zero_grad(); fc1.bias.grad before and after loss.backward()".into());
    line("before".into());
    line(p.fc1_bias_grad_before.clone());
    line("after".into());
    line(p.fc1_bias_grad_after.clone());
    line(format!(
        "# {} of the {} entries are 0: {} fc1 units have w·x + b ≤ 0 for this \
         input, and ReLU passes no gradient back through an inactive unit (relu'(z) = 0)",
        step.fc1_bias_grad_zeros, report.hidden, step.fc1_inactive_units
    ));

    line(format!(
        "# one SGD step, θ ← θ − lr·∇L for every parameter θ (lr {}); fc1.weight[0, :10] before and after",
        report.lr
    ));
    line(p.row0_before.clone());
    line(p.row0_after.clone());
    line(format!("# change = −lr·grad (zero where fc1's unit 0 is inactive for this input)\n{}", p.change));
    line(format!(
        "# over all of fc1.weight the largest change is {:+.3e} (at [{}, {}]); the layer moved by \
         {:.1} % of its size (‖Δ‖/‖W‖)",
        step.fc1_largest_change,
        step.fc1_largest_change_at[0],
        step.fc1_largest_change_at[1],
        100.0 * step.fc1_relative_change
    ));
    line(format!(
        "# the loss on this input: {:.6} before the step, {:.6} after ({:+.6})",
        report.loss_before_step,
        report.loss_after_step,
        report.loss_after_step - report.loss_before_step
    ));
    if let Some(graph) = &report.backward_graph {
        line(format!(
            "# the whole backward graph of the loss ([i]: input i, i.e. next_functions[i])\n{}",
            graph.tree()
        ));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// What In \[8\] shows, in words: where each input of the node after the loss goes. The
/// notebook's comment calls `next_functions[0][0]` of the linear layer "relu", but libtorch's
/// linear is `addmm(bias, input, weightᵀ)`; the graph itself says what input 0 is.
fn explain_in8(graph: &Graph) -> String {
    let chain = graph.first_input_chain(2);
    let (Some(Some(loss)), Some(Some(linear))) = (chain.first(), chain.get(1)) else {
        return String::new();
    };
    let inputs = graph.next_functions(linear.id);
    let mut text = format!(
        "# {} is the loss's node; its input 0 is {}, the last layer.\n\
         # The notebook's comment calls the next one \"relu\"; {}'s inputs are, in order:\n",
        loss.name, linear.name, linear.name
    );
    for (input, node) in &inputs {
        text.push_str(&format!("#   next_functions[{input}][0] = {}\n", Graph::label(node)));
    }
    let relu = inputs.iter().find(|(_, n)| n.name.starts_with("Relu"));
    match (inputs.first(), relu) {
        (Some((0, first)), Some((k, relu))) if first.id != relu.id => text.push_str(&format!(
            "# so next_functions[0][0] is {}, and {} is input {k}",
            Graph::label(first),
            relu.name
        )),
        _ => {
            text.pop(); // the last line's newline: `line` adds one
        }
    }
    text
}

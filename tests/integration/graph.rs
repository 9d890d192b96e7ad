//! The autograd graph read from libtorch: names, nodes, edges and leaves equal PyTorch's for the
//! same expressions; deep and shared graphs; the commands that show it.

use nnopt::graph::{backward_graph, grad_fn_name, Graph};
use nnopt::mlp::Network;
use nnopt::perceptron::{graph_growth, PerceptronConfig, GRAPH_UPDATES};
use serde_json::{json, Value};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

use crate::common::{golden, nnopt, nnopt_json, nnopt_ok, scratch, torch_rng};

fn floats(values: &[f32]) -> Tensor {
    Tensor::from_slice(values)
}

/// Asserts that our graph equals the golden case `name` (nodes in discovery order with names and
/// variables, and every edge with its input number).
// Goldens: scripts/torch-python scripts/reference/graph.py > tests/goldens/graph.json
fn assert_graph(graph: &Graph, name: &str) {
    let ours = serde_json::to_value(graph).unwrap();
    let reference = &golden("graph.json")[name];
    assert_eq!(ours["nodes"], reference["nodes"], "{name}: nodes");
    assert_eq!(ours["edges"], reference["edges"], "{name}: edges");
}

#[test]
fn relu_of_w_x_plus_b_is_pytorchs_graph() {
    let x = floats(&[5.0]);
    let w = floats(&[1.2]).set_requires_grad(true);
    let b = floats(&[0.5]).set_requires_grad(true);
    let a = (&w * &x + &b).relu();
    let mut graph = backward_graph(&a).unwrap();
    graph.name_leaves(&[("w".into(), w.shallow_clone()), ("b".into(), b.shallow_clone())]);
    assert_graph(&graph, "relu_wx_b");
    assert_eq!(grad_fn_name(&a).as_deref(), Some("ReluBackward0"));
}

#[test]
fn the_mlp_loss_is_pytorchs_graph() {
    let _rng = torch_rng();
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &[784, 32, 10]).unwrap();
    let input = Tensor::randn([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    let target = Tensor::randn([10], (Kind::Float, Device::Cpu)).view([1, -1]);
    let loss = net.forward(&input).mse_loss(&target, Reduction::Mean);
    let mut graph = backward_graph(&loss).unwrap();
    graph.name_leaves(&net.parameters());
    assert_graph(&graph, "mlp_mse_loss");
    // In [8]: the first-input chain, as the notebook prints it.
    let chain: Vec<&str> = graph.first_input_chain(3).iter().map(|n| n.unwrap().name.as_str()).collect();
    assert_eq!(chain, ["MseLossBackward0", "AddmmBackward0", "AccumulateGrad"]);
}

#[test]
fn leaves_and_no_grad_results_have_no_graph() {
    let w = floats(&[1.2]).set_requires_grad(true);
    assert_eq!(grad_fn_name(&w), None);
    assert_graph(&backward_graph(&w).unwrap(), "leaf");
    let made = tch::no_grad(|| &w * 2.0);
    assert_eq!(grad_fn_name(&made), None);
    assert_graph(&backward_graph(&made).unwrap(), "no_grad");
    assert_eq!(grad_fn_name(&floats(&[1.0])), None);
    assert!(backward_graph(&Tensor::new()).is_err(), "an undefined tensor is an error, not a crash");
}

#[test]
fn a_shared_subexpression_is_one_node() {
    let w = floats(&[1.2]).set_requires_grad(true);
    // Python's `w * 2` wraps 2 in a tensor (aten::mul.Tensor, MulBackward0); tch's `&w * 2.0` is
    // aten::mul.Scalar (MulBackward1). The same operation as PyTorch's, so the same graph:
    let y = &w * Tensor::from(2.0f32);
    let mut graph = backward_graph(&(&y + &y)).unwrap();
    graph.name_leaves(&[("w".into(), w.shallow_clone())]);
    assert_graph(&graph, "shared");
    assert!(graph.tree().contains("(#1, shown above)"), "{}", graph.tree());
}

#[test]
fn a_ten_thousand_node_chain_is_walked_without_recursion() {
    let w = floats(&[1.0]).set_requires_grad(true);
    let mut x = w.shallow_clone();
    for _ in 0..10_000 {
        x = &x * 1.0001;
    }
    // The walk and everything read from it run on a thread with a 256 KiB stack: a recursive
    // walk (one frame per node, 10 000 deep) would overflow it and abort the test binary.
    let (x, w) = (x.shallow_clone(), w.shallow_clone());
    let checks = move || {
        let mut graph = backward_graph(&x).unwrap();
        graph.name_leaves(&[("w".into(), w)]);
        assert_eq!(graph.nodes.len(), 10_001);
        assert_eq!(graph.edges.len(), 10_000);
        // `x * 1.0001` with an f64 is aten::mul.Scalar: MulBackward1 (see the shared test).
        assert!(graph.nodes[..10_000].iter().all(|n| n.name == "MulBackward1"), "{:?}", graph.nodes[0]);
        assert_eq!(graph.nodes[10_000].variable.as_deref(), Some("w"));
        let tree = graph.tree();
        assert_eq!(tree.lines().count(), 10_001);
        // Indentation is capped, so the text grows linearly (uncapped: ~150 MB of spaces).
        assert!(tree.len() < 2_000_000, "tree is {} bytes", tree.len());
        let last = tree.lines().last().unwrap();
        assert!(last.contains("(depth 10000)"), "{last}");
        assert_eq!(graph.dot().matches(" -> ").count(), 10_000);
    };
    std::thread::Builder::new().stack_size(256 * 1024).spawn(checks).unwrap().join().unwrap();
}

#[test]
fn the_notebook_perceptron_graph_grows_as_pytorchs() {
    let _rng = torch_rng();
    let growth = graph_growth(&PerceptronConfig::default(), &GRAPH_UPDATES, Device::Cpu).unwrap();
    // Node names, counts, edges and leaves: `MulBackward0` where the notebook multiplies by a
    // Python float (tch's `* f64` would make MulBackward1).
    let ours: Vec<Value> = growth
        .iter()
        .map(|g| {
            json!({"updates": g.updates, "nodes": g.nodes, "edges": g.edges, "names": g.names, "leaves": g.leaves})
        })
        .collect();
    assert_eq!(Value::Array(ours), golden("graph.json")["notebook_perceptron_growth"]);
    assert!(growth.iter().all(|g| g.nnopt_nodes == 0), "nnopt's form keeps no graph");
}

#[test]
fn mlp_prints_in8_from_libtorch_and_graph_flags_work() {
    let text = nnopt_ok(&["--device", "cpu", "mlp"]);
    assert!(
        text.contains("<MseLossBackward0 object>\n<AddmmBackward0 object>\n<AccumulateGrad object>\n"),
        "{text}"
    );
    assert!(text.contains("next_functions[0][0] = AccumulateGrad (fc2.bias)"), "{text}");
    assert!(text.contains("ReluBackward0 is input 1"), "{text}");
    let v = nnopt_json(&["--device", "cpu", "--json", "mlp"]);
    assert_eq!(v["grad_fn_chain"], json!(["MseLossBackward0", "AddmmBackward0", "AccumulateGrad"]));
    assert!(v.get("backward_graph").is_none(), "the whole graph only with --graph");
    let dir = scratch("graph_flags");
    let dot = dir.join("mlp.dot");
    let v =
        nnopt_json(&["--device", "cpu", "--json", "mlp", "--graph", "--graph-dot", dot.to_str().unwrap()]);
    let golden_graph = &golden("graph.json")["mlp_mse_loss"];
    assert_eq!(v["backward_graph"]["nodes"], golden_graph["nodes"]);
    assert_eq!(v["backward_graph"]["edges"], golden_graph["edges"]);
    let dot = std::fs::read_to_string(&dot).unwrap();
    assert!(dot.starts_with("digraph backward {") && dot.contains("AccumulateGrad\\nfc1.weight"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 9);
    assert_dot_is_well_formed(&dot, 10);
    let text = nnopt_ok(&["--device", "cpu", "mlp", "--graph"]);
    assert!(text.contains("│  └─ [0] AddmmBackward0 #5"), "{text}");
}

/// The DOT text is one `digraph { … }` whose every line between the braces is an attribute
/// statement, a node `nK [label="…"…];` or an edge `nA -> nB [label="i"];` between declared
/// nodes, with balanced quotes: what `dot` needs to parse it.
fn assert_dot_is_well_formed(dot: &str, nodes: usize) {
    let lines: Vec<&str> = dot.lines().collect();
    assert_eq!(lines.first(), Some(&"digraph backward {"), "{dot}");
    assert_eq!(lines.last(), Some(&"}"), "{dot}");
    let mut declared = std::collections::HashSet::new();
    for line in &lines[1..lines.len() - 1] {
        let line = line.trim();
        assert!(line.ends_with(';'), "unterminated statement: {line}");
        assert_eq!(line.replace("\\\"", "").matches('"').count() % 2, 0, "unbalanced quotes: {line}");
        let head = line.split(' ').next().unwrap();
        if let Some((from, to)) = line.split_once(" -> ") {
            let to = to.split(' ').next().unwrap();
            assert!(declared.contains(from) && declared.contains(to), "edge to an undeclared node: {line}");
        } else if head.starts_with('n') && head[1..].chars().all(|c| c.is_ascii_digit()) {
            assert!(line.contains("[label=\""), "node without a label: {line}");
            declared.insert(head.to_string());
        } else {
            assert!(["rankdir=TB;", "node"].iter().any(|p| line.starts_with(p)), "unexpected: {line}");
        }
    }
    assert_eq!(declared.len(), nodes, "{dot}");
}

#[test]
fn autograd_and_perceptron_graph_flags() {
    let v = nnopt_json(&["--device", "cpu", "--json", "autograd", "--graph"]);
    let golden_graph = &golden("graph.json")["relu_wx_b"];
    assert_eq!(v["backward_graph"]["nodes"], golden_graph["nodes"]);
    assert_eq!(v["backward_graph"]["edges"], golden_graph["edges"]);
    let v = nnopt_json(&["--device", "cpu", "--json", "perceptron", "--graph"]);
    let growth: Vec<(u64, u64)> = v["notebook_graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["updates"].as_u64().unwrap(), g["nodes"].as_u64().unwrap()))
        .collect();
    assert_eq!(growth, [(1, 10), (2, 20), (10, 100), (100, 1000)]);
    // A DOT path that cannot be written is refused before any work.
    let out = nnopt(&["--device", "cpu", "autograd", "--graph-dot", "/no/such/dir/a.dot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--graph-dot"));
}

#[test]
fn no_grad_fn_name_is_written_by_hand_in_src() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    // Any string on a code line that names a node: MulBackward1, AccumulateGrad, …
                    let names_node = code.contains("Backward") || code.contains("AccumulateGrad");
                    if names_node && code.contains('"') {
                        offenders.push(format!("{}:{}: {line}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "hand-written grad_fn names:\n{}", offenders.join("\n"));
}

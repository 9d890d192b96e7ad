//! The computational graph that autograd builds, read from libtorch itself — the notebook's
//! In \[8\] cell: `loss.grad_fn`, `loss.grad_fn.next_functions[0][0]`, and one step further.
//!
//! tch exposes no `grad_fn`, so `graph.cpp` (compiled by build.rs against libtorch's headers)
//! provides a minimal C API over `torch::autograd::Node`, and this module is its only user: all
//! the unsafe code of nnopt's graph reading is here, behind [`grad_fn_name`] and
//! [`backward_graph`]. Names are PyTorch's (`AddmmBackward0`, `AccumulateGrad`), so nothing
//! printed about a graph is ever written by hand.

use std::ffi::{c_char, CStr};
use std::fmt::Write;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tch::Tensor;

mod ffi {
    use std::ffi::c_char;

    extern "C" {
        pub fn nnopt_free(s: *mut c_char);
        pub fn nnopt_grad_fn_name(
            tensor: *const std::ffi::c_void,
            result: *mut *mut c_char,
            error: *mut *mut c_char,
        ) -> i32;
        pub fn nnopt_tensor_id(tensor: *const std::ffi::c_void) -> usize;
        pub fn nnopt_set_grad(
            variable: *mut std::ffi::c_void,
            grad: *const std::ffi::c_void,
            result: *mut *mut c_char,
            error: *mut *mut c_char,
        ) -> i32;
        pub fn nnopt_backward_graph(
            tensor: *const std::ffi::c_void,
            result: *mut *mut c_char,
            error: *mut *mut c_char,
        ) -> i32;
    }
}

/// Takes ownership of a string graph.cpp malloc'd: copies it and frees it. Null is `None`.
///
/// Safety: `s` is null or a NUL-terminated string from graph.cpp's `copy_string`, not yet freed.
unsafe fn take_string(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    let text = CStr::from_ptr(s).to_string_lossy().into_owned();
    ffi::nnopt_free(s);
    Some(text)
}

/// A graph.cpp entry point: (tensor, result, error) → 0, or 1 after a C++ exception.
type Entry = unsafe extern "C" fn(*const std::ffi::c_void, *mut *mut c_char, *mut *mut c_char) -> i32;

/// Calls a graph.cpp function on `tensor`: its result string (`None` when it has none), or the
/// message of the C++ exception it caught.
fn call(tensor: &Tensor, f: Entry) -> Result<Option<String>> {
    if !tensor.defined() {
        bail!("an undefined tensor has no graph");
    }
    let mut result: *mut c_char = std::ptr::null_mut();
    let mut error: *mut c_char = std::ptr::null_mut();
    // Safety: `tensor.as_ptr()` is the `torch::Tensor*` tch owns for `tensor`, valid for the
    // whole call because `tensor` is borrowed across it; graph.cpp only reads through it and
    // keeps no pointer after returning. Both strings it hands back are ours, freed once here.
    unsafe {
        let status = f(tensor.as_ptr() as *const std::ffi::c_void, &mut result, &mut error);
        let message = take_string(error);
        let text = take_string(result);
        if status != 0 {
            bail!("libtorch: {}", message.unwrap_or_else(|| "out of memory".to_string()));
        }
        Ok(text)
    }
}

/// The name PyTorch prints for `tensor.grad_fn` (`ReluBackward0`), or `None` for a leaf, a
/// tensor made under no_grad, or one that needs no gradient.
pub fn grad_fn_name(tensor: &Tensor) -> Option<String> {
    // A defined tensor's grad_fn() and name() do not throw; an error can only mean "no name".
    call(tensor, ffi::nnopt_grad_fn_name).ok().flatten()
}

/// An identity shared by a tensor and every shallow clone of it (the same TensorImpl): how an
/// `AccumulateGrad` node's variable is matched to a VarStore parameter.
fn tensor_id(tensor: &Tensor) -> usize {
    // Safety: as in `call`; nnopt_tensor_id only reads the pointer and cannot throw.
    unsafe { ffi::nnopt_tensor_id(tensor.as_ptr() as *const std::ffi::c_void) }
}

/// Makes `grad` the `.grad` of `variable`, which backward then accumulates into in place: how
/// [`crate::flat`] keeps every parameter's gradient in one buffer. (graph.cpp is nnopt's one C++
/// shim, so this small entry of it lives here too.)
pub fn set_grad(variable: &Tensor, grad: &Tensor) -> Result<()> {
    if !variable.defined() || !grad.defined() {
        bail!("set_grad: an undefined tensor");
    }
    let mut result: *mut c_char = std::ptr::null_mut();
    let mut error: *mut c_char = std::ptr::null_mut();
    // Safety: both pointers are the `torch::Tensor*` tch owns for the borrowed tensors, valid
    // across the call. graph.cpp assigns `variable`'s grad field (the TensorImpl's autograd
    // meta, shared by every shallow clone of it, not tch's handle), keeps no pointer, and hands
    // back only strings we free once here.
    unsafe {
        let status = ffi::nnopt_set_grad(
            variable.as_ptr() as *mut std::ffi::c_void,
            grad.as_ptr() as *const std::ffi::c_void,
            &mut result,
            &mut error,
        );
        let message = take_string(error);
        take_string(result);
        if status != 0 {
            bail!("libtorch: {}", message.unwrap_or_else(|| "set_grad failed".to_string()));
        }
    }
    Ok(())
}

/// One node of the backward graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Discovery order from the root, breadth first (0 is the root).
    pub id: usize,
    /// PyTorch's name: `AddmmBackward0`, `AccumulateGrad`.
    pub name: String,
    /// For an `AccumulateGrad`, the leaf variable it feeds, named by [`Graph::name_leaves`].
    pub variable: Option<String>,
    #[serde(skip)]
    leaf: Option<usize>,
}

/// `from`'s input number `input` comes from `to`: `from.next_functions[input][0] is to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub input: usize,
}

/// The backward graph reachable from a tensor's `grad_fn`, each node once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    #[serde(skip)]
    root: Keep,
}

/// Holds the walked tensor, and through its grad_fn every node and leaf variable, for as long
/// as the `Graph` lives: the leaf ids are `TensorImpl` addresses, which must not be freed and
/// reused by another tensor before [`Graph::name_leaves`] compares them.
#[derive(Clone, Default)]
struct Keep(#[allow(dead_code)] Option<std::rc::Rc<Tensor>>); // held, never read

impl PartialEq for Keep {
    /// Graphs are equal by their nodes and edges; what keeps them alive does not matter.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keep")
    }
}

/// Walks the backward graph from `tensor.grad_fn` (iteratively, in libtorch): empty for a
/// tensor without one.
pub fn backward_graph(tensor: &Tensor) -> Result<Graph> {
    let text = call(tensor, ffi::nnopt_backward_graph)?.unwrap_or_default();
    let mut graph = Graph { root: Keep(Some(std::rc::Rc::new(tensor.shallow_clone()))), ..Graph::default() };
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| -> Result<usize> {
            fields.get(i).and_then(|f| f.parse().ok()).with_context(|| format!("graph.cpp wrote {line:?}"))
        };
        match fields[0] {
            "N" => {
                let leaf = number(3)?;
                let name = fields.get(2).with_context(|| format!("graph.cpp wrote {line:?}"))?.to_string();
                graph.nodes.push(Node {
                    id: number(1)?,
                    name,
                    variable: None,
                    leaf: (leaf != 0).then_some(leaf),
                });
            }
            "E" => graph.edges.push(Edge { from: number(1)?, to: number(2)?, input: number(3)? }),
            _ => bail!("graph.cpp wrote {line:?}"),
        }
    }
    Ok(graph)
}

impl Graph {
    /// Names each `AccumulateGrad` after the variable it feeds: `variables` are (name, tensor)
    /// pairs such as a VarStore's `fc1.weight` or a demo's `w`.
    pub fn name_leaves(&mut self, variables: &[(String, Tensor)]) {
        for node in &mut self.nodes {
            if let Some(leaf) = node.leaf {
                node.variable = variables.iter().find(|(_, t)| tensor_id(t) == leaf).map(|(n, _)| n.clone());
            }
        }
    }

    /// `node.next_functions` without its `None` entries: (input number, node).
    pub fn next_functions(&self, id: usize) -> Vec<(usize, &Node)> {
        self.edges.iter().filter(|e| e.from == id).map(|e| (e.input, &self.nodes[e.to])).collect()
    }

    /// `grad_fn`, `grad_fn.next_functions[0][0]`, `….next_functions[0][0]`, … for `depth`
    /// nodes: the notebook's In \[8\] walk. `None` where input 0 needs no gradient (PyTorch
    /// prints `None`) or the walk ends.
    pub fn first_input_chain(&self, depth: usize) -> Vec<Option<&Node>> {
        let mut chain = vec![self.nodes.first()];
        while chain.len() < depth {
            let next = chain.last().copied().flatten().and_then(|n| {
                self.next_functions(n.id).into_iter().find(|(input, _)| *input == 0).map(|(_, n)| n)
            });
            chain.push(next);
        }
        chain
    }

    /// A node as PyTorch's repr names it, with the variable of an `AccumulateGrad`.
    pub fn label(node: &Node) -> String {
        match &node.variable {
            Some(v) => format!("{} ({v})", node.name),
            None => node.name.clone(),
        }
    }

    /// The graph as an indented tree from the root; `[i]` is the input number. A node reached
    /// a second time (a shared subexpression) is shown once and referred to after.
    pub fn tree(&self) -> String {
        let mut text = String::new();
        let Some(root) = self.nodes.first() else {
            return "(no grad_fn: a leaf, or made without gradient tracking)\n".to_string();
        };
        let mut shown = vec![false; self.nodes.len()];
        // Children per node, in input order, built once (a 10 000-node chain stays linear).
        let mut children: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.nodes.len()];
        for e in &self.edges {
            children[e.from].push((e.input, e.to));
        }
        // (node, indent prefix, edge label, is last child, depth); an explicit stack, no
        // recursion. Indentation stops growing at MAX_INDENT levels (the depth is printed
        // instead), so a 10 000-node chain prints in linear, not quadratic, space.
        const MAX_INDENT: usize = 32;
        let mut stack = vec![(root.id, String::new(), String::new(), true, 0usize)];
        while let Some((id, prefix, edge, last, depth)) = stack.pop() {
            let is_root = depth == 0;
            let node = &self.nodes[id];
            let branch = if is_root {
                ""
            } else if last {
                "└─ "
            } else {
                "├─ "
            };
            let deep = if depth > MAX_INDENT { format!("(depth {depth}) ") } else { String::new() };
            if shown[id] {
                let _ = writeln!(text, "{prefix}{branch}{deep}{edge}{} (#{id}, shown above)", node.name);
                continue;
            }
            shown[id] = true;
            let _ = writeln!(text, "{prefix}{branch}{deep}{edge}{} #{id}", Self::label(node));
            let child_prefix = if is_root {
                String::new()
            } else if depth >= MAX_INDENT {
                prefix.clone()
            } else {
                format!("{prefix}{}", if last { "   " } else { "│  " })
            };
            let count = children[id].len();
            for (i, &(input, child)) in children[id].iter().enumerate().rev() {
                stack.push((child, child_prefix.clone(), format!("[{input}] "), i + 1 == count, depth + 1));
            }
        }
        text
    }

    /// Graphviz DOT: nodes labelled with PyTorch's names, leaves with their variable names,
    /// edges from each node to its next_functions labelled with the input number.
    pub fn dot(&self) -> String {
        let mut text = String::from(
            "digraph backward {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
        );
        for node in &self.nodes {
            let label = match &node.variable {
                Some(v) => format!("{}\\n{}", node.name, v.replace('"', "\\\"")),
                None => node.name.clone(),
            };
            let style =
                if node.leaf.is_some() { ", style=\"rounded,filled\", fillcolor=\"#dbeafe\"" } else { "" };
            let _ = writeln!(text, "  n{} [label=\"{label}\"{style}];", node.id);
        }
        for e in &self.edges {
            let _ = writeln!(text, "  n{} -> n{} [label=\"{}\"];", e.from, e.to, e.input);
        }
        text.push_str("}\n");
        text
    }
}

/// Writes `graph` as Graphviz DOT to `path` (`--graph-dot`), atomically.
pub fn write_dot(path: &std::path::Path, graph: &Graph) -> Result<()> {
    crate::fsutil::write_atomic(path, graph.dot().as_bytes())
}

impl Graph {
    /// The graph as a picture (`--graph-image`): the root on top, every node one layer below
    /// the deepest node that uses it (longest path from the root), arrows from each node to its
    /// inputs labelled with the input number. A layout of its own: no Graphviz needed.
    pub fn figure(&self, title: &str) -> crate::plot::Figure {
        let n = self.nodes.len();
        let mut layer = vec![0usize; n];
        // Longest path by relaxation: at most n rounds on a DAG (nodes ≤ a few hundred here).
        for _ in 0..n {
            let mut changed = false;
            for e in &self.edges {
                if layer[e.to] < layer[e.from] + 1 {
                    layer[e.to] = layer[e.from] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut next_slot = vec![0usize; n + 1];
        let nodes: Vec<(String, usize, usize)> = self
            .nodes
            .iter()
            .map(|node| {
                let l = layer[node.id];
                let slot = next_slot[l];
                next_slot[l] += 1;
                (Self::label(node), l, slot)
            })
            .collect();
        let edges = self.edges.iter().map(|e| (e.from, e.to, format!("[{}]", e.input))).collect();
        let layers = layer.iter().max().map_or(1, |m| m + 1) as u32;
        let widest = next_slot.iter().max().copied().unwrap_or(1).max(1) as u32;
        crate::plot::Figure {
            width: (widest * 250).max(600),
            height: layers * 90 + 60,
            columns: 1,
            panels: vec![crate::plot::Panel::Graph { title: title.to_string(), nodes, edges }],
        }
    }
}

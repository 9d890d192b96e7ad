//! Tensors printed the way PyTorch prints them, so nnopt and the notebook read side by side.
//!
//! This follows `torch/_tensor_str.py` (PyTorch 2.11) with its default print options: 4 digits
//! of precision, 80 columns, summarization above 1000 elements with 3 edge items. One formatter
//! is chosen for the whole tensor from the elements that will be shown — integer-valued floats
//! print as `5.`, a wide range of magnitudes switches to scientific notation — and every element
//! is right-aligned to the widest one. Suffixes (`device=`, `dtype=`, `requires_grad=True`,
//! `grad_fn=<…>`) wrap onto a new line where PyTorch wraps them.
//!
//! The `grad_fn=<…>` suffix is read from the tensor's own autograd node through
//! [`crate::graph::grad_fn_name`]: whatever operation made the tensor, the name is libtorch's.

use std::fmt;

use tch::{Device, Kind, Tensor};

const PRECISION: usize = 4;
const LINE_WIDTH: i64 = 80;
const THRESHOLD: i64 = 1000;
const EDGE_ITEMS: usize = 3;
const PREFIX: &str = "tensor(";

/// The PyTorch `repr` of a tensor.
pub fn tensor_repr(tensor: &Tensor) -> String {
    Repr::new(tensor).to_string()
}

/// `torch.Size([32, 784])`.
pub fn size_repr(size: &[i64]) -> String {
    let dims: Vec<String> = size.iter().map(i64::to_string).collect();
    format!("torch.Size([{}])", dims.join(", "))
}

/// A tuple of already formatted items as the notebook shows it: Python's `(a,)` / `(a, b)` when
/// it fits on one line, else IPython's layout — one item per line, continuation lines indented
/// by one space under the opening parenthesis.
pub fn tuple_repr(items: &[String]) -> String {
    let trailer = if items.len() == 1 { "," } else { "" };
    let inline = format!("({}{trailer})", items.join(", "));
    if !inline.contains('\n') && inline.len() < LINE_WIDTH as usize {
        return inline;
    }
    let indented: Vec<String> = items.iter().map(|item| item.replace('\n', "\n ")).collect();
    format!("({}{trailer})", indented.join(",\n "))
}

/// A tensor's repr with the options PyTorch derives from objects tch does not model.
pub struct Repr<'a> {
    tensor: &'a Tensor,
    parameter: bool,
    /// The device to name, where it is not the tensor's own (values printed from a report).
    device: Option<Device>,
}

impl<'a> Repr<'a> {
    pub fn new(tensor: &'a Tensor) -> Self {
        Repr { tensor, parameter: false, device: None }
    }

    /// Prints as a tensor on `device` would print: values kept in a report, printed from a CPU
    /// copy, still say where the run computed them (`device='cuda:0'`).
    pub fn as_if_on(mut self, device: Device) -> Self {
        self.device = Some(device);
        self
    }

    /// Prints as an `nn.Parameter`: `Parameter containing:` on a line of its own first.
    pub fn parameter(mut self) -> Self {
        self.parameter = true;
        self
    }

    fn render(&self) -> Result<String, tch::TchError> {
        let t = self.tensor;
        let kind = t.f_kind()?;
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let numel: usize = shape.iter().product();
        let mut suffixes = Vec::new();
        match self.device.unwrap_or_else(|| t.device()) {
            Device::Cpu => {}
            Device::Cuda(i) => suffixes.push(format!("device='cuda:{i}'")),
            Device::Mps => suffixes.push("device='mps:0'".to_string()),
            Device::Vulkan => suffixes.push("device='vulkan'".to_string()),
        }
        let default_kind = matches!(kind, Kind::Float | Kind::Int64 | Kind::Bool);
        let body = if numel == 0 {
            if shape.len() != 1 {
                let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
                let tuple = if dims.len() == 1 {
                    format!("({},)", dims[0])
                } else {
                    format!("({})", dims.join(", "))
                };
                suffixes.push(format!("size={tuple}"));
            }
            if kind != Kind::Float {
                suffixes.push(format!("dtype={}", dtype_name(kind)));
            }
            "[]".to_string()
        } else {
            if !default_kind {
                suffixes.push(format!("dtype={}", dtype_name(kind)));
            }
            let values = Values::of(t, kind)?;
            let summarize = numel as i64 > THRESHOLD;
            let mut visible = Vec::new();
            visible_indices(&shape, 0, summarize, &mut visible);
            let formatter = Formatter::new(&values, &visible);
            let mut body = String::new();
            write_tensor(&mut body, &formatter, &shape, 0, PREFIX.len(), summarize);
            body
        };
        if t.requires_grad() {
            if !t.is_leaf() {
                if let Some(name) = crate::graph::grad_fn_name(t) {
                    suffixes.push(format!("grad_fn=<{name}>"));
                }
            } else {
                suffixes.push("requires_grad=True".to_string());
            }
        }
        let mut out = String::new();
        if self.parameter {
            out.push_str("Parameter containing:\n");
        }
        out.push_str(&add_suffixes(format!("{PREFIX}{body}"), &suffixes, PREFIX.len()));
        Ok(out)
    }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render() {
            Ok(text) => f.write_str(&text),
            Err(err) => write!(f, "tensor(<unprintable: {}>)", err.to_string().lines().next().unwrap_or("")),
        }
    }
}

fn dtype_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Uint8 => "torch.uint8",
        Kind::Int8 => "torch.int8",
        Kind::Int16 => "torch.int16",
        Kind::Int => "torch.int32",
        Kind::Int64 => "torch.int64",
        Kind::Half => "torch.float16",
        Kind::Float => "torch.float32",
        Kind::Double => "torch.float64",
        Kind::BFloat16 => "torch.bfloat16",
        Kind::Bool => "torch.bool",
        Kind::ComplexHalf => "torch.complex32",
        Kind::ComplexFloat => "torch.complex64",
        Kind::ComplexDouble => "torch.complex128",
        _ => "torch.<other>",
    }
}

/// The elements, flattened in row-major order, as Python's `tolist()` would see them.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

impl Values {
    fn of(t: &Tensor, kind: Kind) -> Result<Self, tch::TchError> {
        let flat = t.f_detach()?.f_to_device(Device::Cpu)?.f_reshape([-1])?;
        Ok(match kind {
            Kind::Bool => Values::Bool(
                Vec::<i64>::try_from(&flat.f_to_kind(Kind::Int64)?)?.into_iter().map(|v| v != 0).collect(),
            ),
            Kind::Uint8 | Kind::Int8 | Kind::Int16 | Kind::Int | Kind::Int64 => {
                Values::Int(Vec::<i64>::try_from(&flat.f_to_kind(Kind::Int64)?)?)
            }
            _ => Values::Float(Vec::<f64>::try_from(&flat.f_to_kind(Kind::Double)?)?),
        })
    }
}

/// Flat indices of the elements that will be printed (PyTorch's `get_summarized_data`).
fn visible_indices(shape: &[usize], offset: usize, summarize: bool, out: &mut Vec<usize>) {
    let Some((&len, rest)) = shape.split_first() else {
        out.push(offset);
        return;
    };
    let stride: usize = rest.iter().product();
    for i in shown_rows(len, summarize).into_iter().flatten() {
        visible_indices(rest, offset + i * stride, summarize, out);
    }
}

/// The row indices along one dimension, with `None` where PyTorch prints `...`.
fn shown_rows(len: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && len > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS).map(Some).chain([None]).chain((len - EDGE_ITEMS..len).map(Some)).collect()
    } else {
        (0..len).map(Some).collect()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    IntegerFloat,
    Fixed,
    Scientific,
}

/// PyTorch's `_Formatter`: one style and one width for every element of a tensor.
struct Formatter<'v> {
    values: &'v Values,
    style: Style,
    width: usize,
}

impl<'v> Formatter<'v> {
    fn new(values: &'v Values, visible: &[usize]) -> Self {
        let mut width = 1;
        let style = match values {
            Values::Int(v) => {
                width = visible.iter().map(|&i| v[i].to_string().len()).max().unwrap_or(1).max(1);
                Style::Plain
            }
            Values::Bool(v) => {
                width = visible.iter().map(|&i| python_bool(v[i]).len()).max().unwrap_or(1).max(1);
                Style::Plain
            }
            Values::Float(v) => {
                let finite: Vec<f64> =
                    visible.iter().map(|&i| v[i]).filter(|x| x.is_finite() && *x != 0.0).collect();
                if finite.is_empty() {
                    return Formatter { values, style: Style::IntegerFloat, width };
                }
                let min = finite.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
                let max = finite.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let integral = finite.iter().all(|x| *x == x.ceil());
                let wide = max / min > 1000.0 || max > 1.0e8;
                let style = if integral {
                    if wide {
                        Style::Scientific
                    } else {
                        Style::IntegerFloat
                    }
                } else if wide || min < 1.0e-4 {
                    Style::Scientific
                } else {
                    Style::Fixed
                };
                width = finite
                    .iter()
                    .map(|&x| match style {
                        Style::IntegerFloat => format!("{x:.0}").len() + 1,
                        _ => format_float(x, style).len(),
                    })
                    .max()
                    .unwrap_or(1);
                style
            }
        };
        Formatter { values, style, width }
    }

    /// The element at flat index `i`, right-aligned to the common width.
    fn format(&self, i: usize) -> String {
        let text = match self.values {
            Values::Int(v) => v[i].to_string(),
            Values::Bool(v) => python_bool(v[i]).to_string(),
            Values::Float(v) => format_float(v[i], self.style),
        };
        format!("{text:>width$}", width = self.width)
    }
}

fn python_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's float formatting (`{:.4f}`, `{:.4e}`, `{:.0f}` + `.`) for one value.
fn format_float(x: f64, style: Style) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::IntegerFloat => format!("{x:.0}."),
        Style::Scientific => python_exponent(&format!("{x:.PRECISION$e}")),
        Style::Fixed | Style::Plain => format!("{x:.PRECISION$}"),
    }
}

/// Rust writes `1.2346e-5`; Python writes `1.2346e-05` (a sign and at least two digits).
fn python_exponent(rust: &str) -> String {
    match rust.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust.to_string(),
    }
}

/// PyTorch's `_tensor_str_with_formatter`: nested brackets, rows joined by `,` and newlines.
fn write_tensor(
    out: &mut String,
    formatter: &Formatter,
    shape: &[usize],
    offset: usize,
    indent: usize,
    summarize: bool,
) {
    match shape {
        [] => out.push_str(&formatter.format(offset)),
        [len] => {
            let items: Vec<String> = shown_rows(*len, summarize)
                .into_iter()
                .map(|i| i.map_or_else(|| " ...".to_string(), |i| formatter.format(offset + i)))
                .collect();
            let element_length = formatter.width as i64 + 2;
            let per_line = ((LINE_WIDTH - indent as i64) / element_length).max(1) as usize;
            let lines: Vec<String> = items.chunks(per_line).map(|chunk| chunk.join(", ")).collect();
            out.push('[');
            out.push_str(&lines.join(&format!(",\n{}", " ".repeat(indent + 1))));
            out.push(']');
        }
        [len, rest @ ..] => {
            let stride: usize = rest.iter().product();
            let separator = format!(",{}{}", "\n".repeat(shape.len() - 1), " ".repeat(indent + 1));
            out.push('[');
            for (n, row) in shown_rows(*len, summarize).into_iter().enumerate() {
                if n > 0 {
                    out.push_str(&separator);
                }
                match row {
                    Some(i) => write_tensor(out, formatter, rest, offset + i * stride, indent + 1, summarize),
                    None => out.push_str("..."),
                }
            }
            out.push(']');
        }
    }
}

/// PyTorch's `_add_suffixes`: `, suffix` on the same line while it fits in 80 columns.
fn add_suffixes(mut text: String, suffixes: &[String], indent: usize) -> String {
    // Python computes `len(s) - s.rfind("\n") + 1`, where rfind is -1 without a newline.
    let mut last_line_len = text.len() as i64 - text.rfind('\n').map_or(-1, |i| i as i64) + 1;
    for suffix in suffixes {
        let len = suffix.len() as i64;
        if last_line_len + len + 2 > LINE_WIDTH {
            text.push_str(&format!(",\n{}{suffix}", " ".repeat(indent)));
            last_line_len = indent as i64 + len;
        } else {
            text.push_str(&format!(", {suffix}"));
            last_line_len += len + 2;
        }
    }
    text.push(')');
    text
}

/// Python's `repr` of a float (`0.001`, `1e-05`, `6.5`, `2.0`): the shortest digits that round
/// trip, in exponent form below 1e-4 and from 1e16 on.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if x == 0.0 || (-4..16).contains(&exp) {
        let plain = format!("{x}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        python_exponent(&format!("{mantissa}e{exp}"))
    }
}

/// A tensor's values, typed: a number for a 0-d tensor, else one list per dimension, nested as
/// the tensor is shaped (`[[1.0], [2.0]]` for 2×1). In JSON exactly PyTorch's `tensor.tolist()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum TensorValues {
    Number(f64),
    List(Vec<TensorValues>),
}

impl TensorValues {
    /// Every value, in row-major order.
    pub fn flat(&self) -> Vec<f64> {
        match self {
            TensorValues::Number(v) => vec![*v],
            TensorValues::List(items) => items.iter().flat_map(TensorValues::flat).collect(),
        }
    }

    /// The shape the nesting gives (a list's length, then its first item's shape).
    pub fn shape(&self) -> Vec<i64> {
        match self {
            TensorValues::Number(_) => Vec::new(),
            TensorValues::List(items) => {
                let inner = items.first().map_or_else(Vec::new, TensorValues::shape);
                std::iter::once(items.len() as i64).chain(inner).collect()
            }
        }
    }

    /// How PyTorch prints the float32 tensor on `device` these values came from (`tensor([…])`,
    /// `device='cuda:0'` off the CPU): float32 values widened to f64 narrow back exactly, so a
    /// report renders what the run computed, on whatever machine renders it.
    pub fn repr(&self, device: Device) -> String {
        let floats: Vec<f32> = self.flat().iter().map(|&v| v as f32).collect();
        // As many values as the nesting's shape holds: the view cannot fail.
        let tensor = tch::Tensor::from_slice(&floats).view(self.shape().as_slice());
        Repr::new(&tensor).as_if_on(device).to_string()
    }
}

/// A tensor's values as [`TensorValues`], as f64.
pub fn tensor_json(tensor: &tch::Tensor) -> anyhow::Result<TensorValues> {
    let flat = tensor
        .f_detach()
        .and_then(|t| t.f_to_device(tch::Device::Cpu))
        .and_then(|t| t.f_to_kind(tch::Kind::Double))
        .and_then(|t| t.f_reshape([-1]))
        .and_then(|t| Vec::<f64>::try_from(&t))
        .map_err(crate::error::torch)?;
    let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
    Ok(nest(&flat, &shape))
}

fn nest(flat: &[f64], shape: &[usize]) -> TensorValues {
    match shape.split_first() {
        // A 0-d tensor has one value (NaN, null in JSON, were it ever empty).
        None => TensorValues::Number(flat.first().copied().unwrap_or(f64::NAN)),
        Some((&len, rest)) => {
            let stride: usize = rest.iter().product();
            TensorValues::List((0..len).map(|i| nest(&flat[i * stride..(i + 1) * stride], rest)).collect())
        }
    }
}

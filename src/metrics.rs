//! How well a network classifies: loss, accuracy and the confusion matrix on a data split.
//! Used by `train` (after every epoch) and by `evaluate`/`predict`; it depends on neither.

use anyhow::Result;
use serde::Serialize;
use tch::{Device, Kind, Reduction, Tensor};

use crate::data::Normalization;
use crate::error::torch;
use crate::mlp::Network;

/// Loss, accuracy and confusion matrix (rows: true class, columns: predicted) on a data split.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub correct: i64,
    pub total: i64,
    pub confusion_matrix: Vec<Vec<i64>>,
    /// The largest difference between two images' logits for the same class: 0 when the
    /// network gives every image the same output (its hidden units are all dead).
    pub output_spread: f64,
}

/// Images per forward pass, for a network of `widths`: bounds the activations' memory on large
/// test sets. On the CPU, 1 024 (the chunks PyTorch's reference scripts score, so the same sums);
/// on a GPU, where each chunk costs ~18 kernel launches and memory is plentiful, as many as 256 MiB
/// of activations hold, between 1 024 and 16 384 — a Fashion-MNIST test split in one chunk for the
/// notebook's network (3.3 kB an image), 1 024 for one with 100 000 hidden units.
fn chunk(device: Device, widths: &[i64]) -> i64 {
    if !device.is_cuda() {
        return 1_024;
    }
    let bytes_per_image = 4 * widths.iter().sum::<i64>().max(1);
    ((256 << 20) / bytes_per_image).clamp(1_024, 16_384)
}

/// A split's images as [`evaluate_inputs`] reads them.
pub enum Inputs<'a> {
    /// Raw N×H×W bytes, normalized a chunk at a time: the float copy of a whole split never
    /// exists, so memory stays at the bytes (the CPU's way).
    Raw(&'a Tensor, &'a Normalization),
    /// N×features float32, normalized once already (a GPU's way: four kernels fewer per chunk).
    /// The same arithmetic as [`Normalization::apply`] on the chunk, so the same numbers.
    Normalized(&'a Tensor),
}

/// Evaluates `net` on raw `images` (N×H×W bytes, on the net's device), normalized a chunk at a
/// time: the float copy of a whole split never exists, so memory stays at the bytes.
pub fn evaluate(
    net: &Network,
    images: &Tensor,
    labels: &Tensor,
    classes: i64,
    normalization: &Normalization,
) -> Result<Evaluation> {
    evaluate_inputs(net, &Inputs::Raw(images, normalization), labels, classes)
}

/// Evaluates `net` on `inputs` against `labels`, `chunk` images at a time. Nothing is read
/// back to the host until every chunk has been launched — two transfers in all, not one per
/// chunk — so on a GPU the chunks run back to back while the host queues the next.
pub fn evaluate_inputs(net: &Network, inputs: &Inputs, labels: &Tensor, classes: i64) -> Result<Evaluation> {
    tch::no_grad(|| {
        let n = labels.size()[0];
        let mut losses = Vec::new();
        let mut confusion =
            Tensor::f_zeros([classes * classes], (Kind::Int64, labels.device())).map_err(torch)?;
        let mut start = 0;
        let (mut low, mut high): (Option<Tensor>, Option<Tensor>) = (None, None);
        let chunk = chunk(labels.device(), &net.widths());
        while start < n {
            let len = chunk.min(n - start);
            let x = match inputs {
                Inputs::Raw(images, normalization) => {
                    let chunk = images.f_narrow(0, start, len).map_err(torch)?;
                    normalization.apply(&chunk, chunk.device())?
                }
                Inputs::Normalized(x) => x.f_narrow(0, start, len).map_err(torch)?,
            };
            let logits = net.f_forward(&x)?;
            let y = labels.f_narrow(0, start, len).map_err(torch)?;
            let loss = logits
                .f_log_softmax(-1, Kind::Float)
                .and_then(|l| l.f_nll_loss_nd(&y, None::<Tensor>, Reduction::Sum, -100))
                .map_err(torch)?;
            losses.push(loss);
            let (chunk_low, chunk_high) =
                (logits.f_amin(0, false).map_err(torch)?, logits.f_amax(0, false).map_err(torch)?);
            low = Some(match low {
                Some(l) => l.f_minimum(&chunk_low).map_err(torch)?,
                None => chunk_low,
            });
            high = Some(match high {
                Some(h) => h.f_maximum(&chunk_high).map_err(torch)?,
                None => chunk_high,
            });
            let predicted = logits.f_argmax(-1, false).map_err(torch)?;
            let cells =
                (y * classes + predicted).f_bincount(None::<Tensor>, classes * classes).map_err(torch)?;
            confusion = confusion.f_add(&cells).map_err(torch)?;
            start += len;
        }
        // The chunks' float32 losses and the spread in one transfer: each loss widened to f64 and
        // added in chunk order, exactly as reading them one by one did.
        if let (Some(h), Some(l)) = (high, low) {
            losses.push((h - l).f_max().map_err(torch)?);
        }
        let floats: Vec<f64> = if losses.is_empty() {
            Vec::new()
        } else {
            Tensor::f_stack(&losses, 0)
                .and_then(|t| t.f_to_device(Device::Cpu))
                .and_then(|t| t.f_to_kind(Kind::Double))
                .and_then(|t| Vec::<f64>::try_from(&t))
                .map_err(torch)?
        };
        let (loss_sum, output_spread) = match floats.split_last() {
            Some((spread, chunks)) => (chunks.iter().sum::<f64>(), *spread),
            None => (0.0, 0.0),
        };
        let confusion: Vec<i64> =
            Vec::try_from(confusion.f_to_device(Device::Cpu).map_err(torch)?).map_err(torch)?;
        let matrix: Vec<Vec<i64>> = confusion.chunks(classes as usize).map(<[i64]>::to_vec).collect();
        let correct: i64 = matrix.iter().enumerate().map(|(i, row)| row[i]).sum();
        Ok(Evaluation {
            loss: loss_sum / n.max(1) as f64,
            accuracy: correct as f64 / n.max(1) as f64,
            correct,
            total: n,
            confusion_matrix: matrix,
            output_spread,
        })
    })
}

/// A confusion matrix as CSV (`train --confusion-csv`): one row per true class, one column per
/// predicted class, each headed by the class name where the data set has names.
pub fn confusion_csv(matrix: &[Vec<i64>], class_names: Option<&[String]>) -> String {
    let name = |c: usize| class_names.and_then(|n| n.get(c)).cloned().unwrap_or_else(|| c.to_string());
    let mut csv = String::from("true\\predicted");
    for j in 0..matrix.len() {
        csv.push_str(&format!(",{}", name(j)));
    }
    csv.push('\n');
    for (i, row) in matrix.iter().enumerate() {
        csv.push_str(&name(i));
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    csv
}

/// A confusion matrix as an aligned table: rows are true classes, columns predictions; with
/// class names, a legend below it.
pub fn confusion_table(matrix: &[Vec<i64>], class_names: Option<&[String]>) -> String {
    let width = matrix.iter().flatten().map(|v| v.to_string().len()).max().unwrap_or(1).max(3);
    let mut text = format!("confusion matrix (rows: true class, columns: predicted)\n{:>5}", "");
    for j in 0..matrix.len() {
        text.push_str(&format!(" {j:>width$}"));
    }
    text.push('\n');
    for (i, row) in matrix.iter().enumerate() {
        text.push_str(&format!("{i:>5}"));
        for v in row {
            text.push_str(&format!(" {v:>width$}"));
        }
        text.push('\n');
    }
    if let Some(names) = class_names {
        let legend: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{i} {n}")).collect();
        text.push_str(&format!("classes: {}\n", legend.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU scores 1 024 images a pass (PyTorch's reference sums); a GPU as many as 256 MiB of
    /// activations hold, from 1 024 to 16 384.
    #[test]
    fn chunks_are_sized_by_device_and_width() {
        assert_eq!(chunk(Device::Cpu, &[784, 32, 10]), 1_024);
        assert_eq!(chunk(Device::Cuda(0), &[784, 32, 10]), 16_384);
        assert_eq!(chunk(Device::Cuda(0), &[784, 10_000, 10]), (256 << 20) / (4 * 10_794));
        assert_eq!(chunk(Device::Cuda(0), &[784, 100_000, 10]), 1_024);
    }
}

//! The validation split a sweep scores its trials on: a stratified, seeded slice of the
//! training set, partitioned in place so the training images are held once.

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tch::Tensor;

use super::{Dataset, Split};
use crate::error::{ensure_usage, torch};

/// The training and validation splits: `fraction` of each class's training images, chosen by a
/// permutation seeded by `seed`, are held out. Returns them as a data set (its `test` is the
/// validation split) and, apart, `data`'s own test split, which only the winner may see.
///
/// The rows are partitioned in place — training rows first, in their order, then validation
/// rows, in theirs — and both splits are views of that one buffer: holding the training set
/// twice (the original and a copy) would be the largest allocation of a sweep. The training
/// tensors' storage is reordered: a `shallow_clone` of them kept elsewhere sees the new order.
pub fn validation_split(data: Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Split)> {
    let labels: Vec<i64> = Vec::try_from(&data.train.labels).map_err(torch)?;
    let mut by_class: Vec<Vec<i64>> = vec![Vec::new(); data.classes as usize];
    for (i, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(i as i64);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_7a11);
    let (mut kept, mut held) = (0, Vec::new());
    for mut indices in by_class {
        // Fisher–Yates, from the seed.
        for i in (1..indices.len()).rev() {
            indices.swap(i, rng.random_range(0..=i));
        }
        let hold = ((indices.len() as f64) * fraction).round() as usize;
        held.extend_from_slice(&indices[..hold]);
        kept += indices.len() - hold;
    }
    held.sort_unstable();
    ensure_usage(!held.is_empty() && kept > 0, || {
        format!(
            "--validation {fraction} leaves an empty training or validation split of {} images",
            labels.len()
        )
    })?;
    let Dataset {
        name,
        train: Split { mut images, labels: mut label_tensor },
        test,
        height,
        width,
        classes,
        spec,
        class_names,
        fingerprint,
    } = data;
    partition_rows(&mut images, &held)?;
    partition_rows(&mut label_tensor, &held)?;
    let (kept, held) = (kept as i64, held.len() as i64);
    let part = |start: i64, len: i64| -> Result<Split> {
        Ok(Split {
            images: images.f_narrow(0, start, len).map_err(torch)?,
            labels: label_tensor.f_narrow(0, start, len).map_err(torch)?,
        })
    };
    let split = Dataset {
        // The source's name, as the weights of the winner record it.
        name,
        train: part(0, kept)?,
        test: part(kept, held)?,
        height,
        width,
        classes,
        spec,
        class_names,
        fingerprint,
    };
    Ok((split, test))
}

/// Moves the rows `held` (sorted, distinct) of `t` to its end and the others to its start, each
/// group in its original order, in place: only the held rows are copied aside.
fn partition_rows(t: &mut Tensor, held: &[i64]) -> Result<()> {
    let aside = t.f_index_select(0, &Tensor::from_slice(held)).map_err(torch)?;
    let n = t.size()[0];
    // `write`: where the next kept row goes; the rows from `next` up to the next held one are kept.
    let (mut write, mut next) = (0, 0);
    for &h in held.iter().chain([&n]) {
        while next < h {
            // A kept row moves back by the number of held rows before it (`gap`); moving at most
            // `gap` rows at once keeps source and destination apart, which `copy_` requires.
            let gap = next - write;
            let len = if gap == 0 { h - next } else { (h - next).min(gap) };
            if gap > 0 {
                let source = t.f_narrow(0, next, len).map_err(torch)?;
                t.f_narrow(0, write, len).and_then(|mut d| d.f_copy_(&source)).map_err(torch)?;
            }
            next += len;
            write += len;
        }
        next = h + 1;
    }
    t.f_narrow(0, write, held.len() as i64).and_then(|mut d| d.f_copy_(&aside)).map_err(torch)
}

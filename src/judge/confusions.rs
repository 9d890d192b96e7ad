//! A classifier's largest confusions, in words: which true class it most often takes for which
//! other, and how often — what a confusion matrix's off-diagonal says that a reader wants, without
//! reading a hundred numbers.

use serde::Serialize;

/// One true class taken for another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    pub truth: usize,
    pub predicted: usize,
    /// Images of `truth` answered `predicted`.
    pub count: i64,
    /// Their share of `truth`'s images.
    pub share: f64,
}

/// How many confusions are said, and the least share worth saying (one in twenty of a class).
pub const SHOWN: usize = 3;
pub const FLOOR: f64 = 0.05;

/// The largest confusions of `matrix` (rows: true class, columns: answer): at most [`SHOWN`],
/// each at least [`FLOOR`] of its class's images, largest share first (ties: more images).
pub fn largest(matrix: &[Vec<i64>]) -> Vec<Confusion> {
    let mut all: Vec<Confusion> = Vec::new();
    for (truth, row) in matrix.iter().enumerate() {
        let total: i64 = row.iter().sum();
        if total == 0 {
            continue;
        }
        for (predicted, &count) in row.iter().enumerate() {
            let share = count as f64 / total as f64;
            if predicted != truth && count > 0 && share >= FLOOR {
                all.push(Confusion { truth, predicted, count, share });
            }
        }
    }
    all.sort_by(|a, b| b.share.total_cmp(&a.share).then(b.count.cmp(&a.count)));
    all.truncate(SHOWN);
    all
}

/// The confusions as lines, classes by name where known.
pub fn describe(confusions: &[Confusion], matrix: &[Vec<i64>], names: Option<&[String]>) -> String {
    let name = |c: usize| names.and_then(|n| n.get(c)).cloned().unwrap_or_else(|| format!("class {c}"));
    if confusions.is_empty() {
        return format!("no class is taken for another in {:.0}% or more of its images", 100.0 * FLOOR);
    }
    let lines: Vec<String> = confusions
        .iter()
        .map(|c| {
            let total: i64 = matrix[c.truth].iter().sum();
            format!(
                "  {} taken for {}: {:.1}% of its images ({} of {total})",
                name(c.truth),
                name(c.predicted),
                100.0 * c.share,
                c.count
            )
        })
        .collect();
    format!("largest confusions:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_shares_of_each_class_are_said_largest_first() {
        // Class 0: 10 % taken for 1; class 2: 30 % for 0 and 4 % for 1 (under the floor).
        let m = vec![vec![90, 10, 0], vec![0, 100, 0], vec![15, 2, 33]];
        let c = largest(&m);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].truth, c[0].predicted, c[0].count), (2, 0, 15));
        assert!((c[0].share - 0.3).abs() < 1e-12);
        assert_eq!((c[1].truth, c[1].predicted), (0, 1));
        let names: Vec<String> = ["T-shirt", "Trouser", "Shirt"].iter().map(|s| s.to_string()).collect();
        let text = describe(&c, &m, Some(&names));
        assert!(text.contains("Shirt taken for T-shirt: 30.0% of its images (15 of 50)"), "{text}");
        assert!(describe(&largest(&[vec![5, 0], vec![0, 5]]), &[vec![5, 0], vec![0, 5]], None)
            .starts_with("no class"));
        // An empty row (a class absent from the test set) is skipped, not divided by.
        assert!(largest(&[vec![0, 0], vec![1, 9]]).iter().all(|c| c.truth == 1));
    }
}

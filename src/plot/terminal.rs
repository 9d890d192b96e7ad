//! The terminal chart: a loss curve as one line of block characters.

/// A one-line chart of a curve for the terminal (`▁▂▃▄▅▆▇█`), `width` cells, on a log scale
/// when every value is positive and they span more than a decade.
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || width == 0 {
        return String::new();
    }
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let log = lo > 0.0 && hi / lo > 10.0;
    let t = |v: f64| if log { v.ln() } else { v };
    let (tl, th) = (t(lo), t(hi));
    let cells = width.min(finite.len());
    (0..cells)
        .map(|c| {
            // The mean of the values this cell covers.
            let (a, b) = (
                c * finite.len() / cells,
                ((c + 1) * finite.len() / cells).max(c * finite.len() / cells + 1),
            );
            let mean = finite[a..b].iter().sum::<f64>() / (b - a) as f64;
            let level = if th > tl { (t(mean) - tl) / (th - tl) } else { 0.0 };
            BLOCKS[((level * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// The terminal chart line: `loss ▇▅▃▂▁▁ 14.25 → 0.31 (log scale)`.
pub fn terminal_chart(label: &str, values: &[f64]) -> String {
    let first = values.first().copied().unwrap_or(f64::NAN);
    let last = values.last().copied().unwrap_or(f64::NAN);
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let scale = if lo > 0.0 && hi / lo > 10.0 { " (log scale)" } else { "" };
    format!("{label} {} {first:.4} → {last:.4}{scale}", sparkline(values, 60))
}

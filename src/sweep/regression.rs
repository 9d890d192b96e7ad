//! The model behind the sweep's importance: a ridge regression scored by its leave-one-out
//! predictions (PRESS), in closed form from the hat matrix — small, exact, no dependency.

/// The ridge penalty on every slope.
pub const RIDGE: f64 = 1.0;

/// Leave-one-out R² of a ridge regression of `y` on `columns` (and an intercept): 1 − PRESS/SST,
/// with each held-out residual eᵢ/(1 − hᵢᵢ).
pub fn loo_r2(columns: &[&Vec<f64>], y: &[f64]) -> f64 {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if sst == 0.0 {
        return 0.0;
    }
    // Rows with a leading 1 for the intercept.
    let p = columns.len() + 1;
    let row = |i: usize| -> Vec<f64> { std::iter::once(1.0).chain(columns.iter().map(|c| c[i])).collect() };
    let mut a = vec![vec![0.0; p]; p];
    let mut b = vec![0.0; p];
    for (i, &yi) in y.iter().enumerate() {
        let x = row(i);
        for (r, (a_row, b_r)) in a.iter_mut().zip(&mut b).enumerate() {
            *b_r += x[r] * yi;
            for (c, a_rc) in a_row.iter_mut().enumerate() {
                *a_rc += x[r] * x[c];
            }
        }
    }
    // A ridge of 1 on the slopes (the columns are standardized ranges and 0/1 choices): it keeps
    // collinear columns solvable, and a choice seen in one trial from owning that trial — its
    // leverage would otherwise be ~1, and its held-out residual explode.
    for (r, a_row) in a.iter_mut().enumerate().skip(1) {
        a_row[r] += RIDGE;
    }
    let Some(inverse) = invert(a) else { return 0.0 };
    let beta: Vec<f64> = inverse.iter().map(|r| r.iter().zip(&b).map(|(u, v)| u * v).sum()).collect();
    let press: f64 = (0..n)
        .map(|i| {
            let x = row(i);
            let fit: f64 = x.iter().zip(&beta).map(|(u, v)| u * v).sum();
            let h: f64 =
                (0..p).map(|r| x[r] * (0..p).map(|c| inverse[r][c] * x[c]).sum::<f64>()).sum::<f64>();
            ((y[i] - fit) / (1.0 - h).max(1e-9)).powi(2)
        })
        .sum();
    1.0 - press / sst
}

/// The inverse of a small symmetric positive-definite matrix (Gauss–Jordan with pivoting).
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let p = a.len();
    let mut inv: Vec<Vec<f64>> =
        (0..p).map(|i| (0..p).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for col in 0..p {
        let pivot = (col..p).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..p {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for i in 0..p {
            if i != col {
                let f = a[i][col];
                for j in 0..p {
                    a[i][j] -= f * a[col][j];
                    inv[i][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn loo_r2_is_high_for_a_line_and_low_for_noise() {
        let x: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        assert!(loo_r2(&[&x], &y) > 0.999);
        let mut rng = StdRng::seed_from_u64(3);
        let noise: Vec<f64> = (0..30).map(|_| rng.random::<f64>()).collect();
        assert!(loo_r2(&[&x], &noise) < 0.1);
    }
}

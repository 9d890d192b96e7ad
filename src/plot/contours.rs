//! Contour lines of a 2-D function sampled on a grid (marching squares).

/// A function asked for its values at many points at once.
pub type Sampler<'a> = &'a dyn Fn(&[(f64, f64)]) -> Vec<f64>;

/// Contour lines of `f` over a rectangle at `levels`, by marching squares on an n×n grid:
/// the segments where f crosses each level. `f` is asked once, for every grid point.
pub fn contours(
    f: Sampler,
    x: (f64, f64),
    y: (f64, f64),
    n: usize,
    levels: &[f64],
) -> Vec<((f64, f64), (f64, f64))> {
    let at = |i: usize, j: usize| {
        (x.0 + (x.1 - x.0) * i as f64 / n as f64, y.0 + (y.1 - y.0) * j as f64 / n as f64)
    };
    let grid: Vec<(f64, f64)> =
        (0..=n).flat_map(|i| (0..=n).map(move |j| (i, j))).map(|(i, j)| at(i, j)).collect();
    let values: Vec<Vec<f64>> = f(&grid).chunks(n + 1).map(<[f64]>::to_vec).collect();
    let mut out = Vec::new();
    for &level in levels {
        for i in 0..n {
            for j in 0..n {
                // The cell's corners in order around it, and where the level crosses each edge.
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let mut crossings = Vec::new();
                for k in 0..4 {
                    let (p, q) = (corners[k], corners[(k + 1) % 4]);
                    let (vp, vq) = (values[p.0][p.1], values[q.0][q.1]);
                    if (vp < level) != (vq < level) && vp.is_finite() && vq.is_finite() {
                        let t = (level - vp) / (vq - vp);
                        let (a, b) = (at(p.0, p.1), at(q.0, q.1));
                        crossings.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                    }
                }
                for pair in crossings.chunks_exact(2) {
                    out.push((pair[0], pair[1]));
                }
            }
        }
    }
    out
}

//! `descent --plot`: two panels side by side. Left, the surface — a 1-D curve with each run's
//! iterates on it, or a 2-D surface's contour lines with each run's path — where every run
//! setting has one colour for its path, its start (ring) and its end (dot), the path's dots go
//! from faint to solid so the order of the steps shows, and a path that leaves the view is
//! marked with a cross where it leaves. Right, the loss per step, one line per run, on a log
//! scale where it spans decades. The legend carries each optimizer's update rule.

use anyhow::Result;

use super::report::{fmt_rate, run_label};
use super::run::Run;
use super::surface::Surface;
use super::DescentReport;
use crate::plot::{contours, Figure, Panel, Segments, Series, Style};

/// How far past the domain a 1-D view extends to follow the iterates (in domain widths).
const VIEW_MARGIN: f64 = 0.5;

/// The palette's colours for runs: all but 6 (grey, the curve) and 7 (black, the minima).
const RUN_COLOURS: [usize; 10] = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11];

/// One colour per run setting (ten before any repeats).
fn colour(report: &DescentReport, run: &Run) -> usize {
    let k = setting_keys(report).iter().position(|s| *s == key(run)).unwrap_or(0);
    RUN_COLOURS[k % RUN_COLOURS.len()]
}

type Key = (&'static str, Option<u64>, Option<u64>);

/// What makes two runs one setting (the same optimizer, rate and μ from other starts).
fn key(run: &Run) -> Key {
    (run.optimizer.name(), run.lr.map(f64::to_bits), run.momentum.map(f64::to_bits))
}

fn setting_keys(report: &DescentReport) -> Vec<Key> {
    let mut keys = Vec::new();
    for r in &report.runs {
        if !keys.contains(&key(r)) {
            keys.push(key(r));
        }
    }
    keys
}

/// The legend's entry for a setting, named on its first run only.
fn legend_name(report: &DescentReport, index: usize, run: &Run) -> String {
    let first = report.runs.iter().position(|o| key(o) == key(run)) == Some(index);
    if !first {
        return String::new();
    }
    let mut name = run_label(run, &report.runs);
    if name == run.optimizer.name() {
        if let Some(lr) = run.lr {
            name = format!("{name} (lr {})", fmt_rate(lr));
        }
    }
    let starts = report.runs.iter().filter(|o| key(o) == key(run)).count();
    if starts > 1 {
        name = format!("{name}, {starts} starts");
    }
    format!("{name}: {}", run.optimizer.short_rule())
}

/// The picture of a `descent` command.
pub fn figure(report: &DescentReport) -> Result<Figure> {
    let surface = Surface::parse(report.surface.name)?;
    let view = if report.surface.dimensions == 1 { curve(report, surface) } else { contour(report, surface) };
    Ok(Figure { width: 1600, height: 720, columns: 2, panels: vec![view, losses(report)] })
}

/// Where the segment from `a` (inside the box) to `b` (outside) crosses the box's edge.
pub fn exit_point(a: (f64, f64), b: (f64, f64), (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> (f64, f64) {
    let mut t: f64 = 1.0;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    for (d, from, lo, hi) in [(dx, a.0, x0, x1), (dy, a.1, y0, y1)] {
        if d > 0.0 && from + d > hi {
            t = t.min((hi - from) / d);
        } else if d < 0.0 && from + d < lo {
            t = t.min((lo - from) / d);
        }
    }
    if !t.is_finite() {
        return a;
    }
    (a.0 + t * dx, a.1 + t * dy)
}

/// A path in the picture's coordinates.
type Path = Vec<(f64, f64)>;

/// The part of a path inside the box, and where it left, if it did.
pub fn clip_path(path: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> (Path, Option<(f64, f64)>) {
    let inside = |p: &(f64, f64)| p.0 >= x.0 && p.0 <= x.1 && p.1 >= y.0 && p.1 <= y.1;
    let kept: Vec<(f64, f64)> = path.iter().copied().take_while(inside).collect();
    let exit = match (kept.last(), path.get(kept.len())) {
        (Some(&a), Some(&b)) if b.0.is_finite() && b.1.is_finite() => Some(exit_point(a, b, x, y)),
        // A point that overflowed leaves from the last one inside, towards nowhere in particular.
        (Some(&a), Some(_)) => Some(a),
        _ => None,
    };
    (kept, exit)
}

/// Each run's path, start, end and exit as series in the run's colour.
fn run_series(
    report: &DescentReport,
    paths: Vec<Vec<(f64, f64)>>,
    view: ((f64, f64), (f64, f64)),
) -> Vec<Series> {
    let mut series = Vec::new();
    let (mut starts, mut ends, mut exits) = (Vec::new(), Vec::new(), Vec::new());
    let count = setting_keys(report).len().max(2);
    let rank = |r: &Run| setting_keys(report).iter().position(|s| *s == key(r)).unwrap_or(0);
    for (k, (r, path)) in report.runs.iter().zip(paths).enumerate() {
        let c = colour(report, r);
        // The first setting widest, the last narrowest: paths that follow one valley stay
        // visible as nested stripes instead of the last one hiding the others.
        let size = 2 + (4 * (count - 1 - rank(r).min(count - 1)) / (count - 1)) as u32;
        let (kept, exit) = clip_path(&path, view.0, view.1);
        if report.surface.dimensions == 2 {
            series.push(Series::new(String::new(), kept.clone(), Style::Line).coloured(c).sized(size));
        }
        series.push(
            Series::new(legend_name(report, k, r), kept.clone(), Style::Graded).coloured(c).sized(size + 1),
        );
        // Starts and ends that coincide (four optimizers stopping in one valley) nest: the
        // first setting's largest.
        let (first, last) = (kept.first().copied(), kept.last().copied());
        starts.push(
            Series::new(String::new(), first.into_iter().collect(), Style::Highlight)
                .coloured(c)
                .sized(size + 4),
        );
        match exit {
            Some(p) => exits.push(Series::new(String::new(), vec![p], Style::Exit).coloured(c)),
            None => ends.push(
                Series::new(String::new(), last.into_iter().collect(), Style::End)
                    .coloured(c)
                    .sized(2 * size + 2),
            ),
        }
    }
    series.extend(starts);
    series.extend(ends);
    series.extend(exits);
    series
}

fn minima_series(report: &DescentReport) -> Series {
    let domain = report.surface.domain.describe();
    let points = report
        .surface
        .minima
        .iter()
        .map(|m| if m.point.len() == 1 { (m.point[0], m.value) } else { (m.point[0], m.point[1]) })
        .collect();
    Series::new(format!("known minima on {domain}"), points, Style::Highlight).coloured(7)
}

const KEY: &str = "○ start, ● end, × left the view; dots fade in along the path; dashes: the domain's edge";

fn curve(report: &DescentReport, surface: Surface) -> Panel {
    let info = &report.surface;
    let [lo, hi] = info.domain.0[0];
    let margin = VIEW_MARGIN * (hi - lo);
    // The curve over the domain and as far as the iterates went, up to half a domain past it.
    let (a, b) = report
        .runs
        .iter()
        .flat_map(|r| r.trajectory.iter().map(|p| p[0]))
        .filter(|x| x.is_finite())
        .fold((lo, hi), |(a, b), x| (a.min(x.max(lo - margin)), b.max(x.min(hi + margin))));
    let xs: Vec<Vec<f64>> = (0..=800).map(|i| vec![a + (b - a) * i as f64 / 800.0]).collect();
    let ys = surface.values(&xs).unwrap_or_else(|_| vec![f64::NAN; xs.len()]);
    let curve: Vec<(f64, f64)> = xs.iter().zip(ys).map(|(x, y)| (x[0], y)).collect();
    // Iterates lie on the curve: only leaving the view sideways is leaving it.
    let y = (f64::NEG_INFINITY, f64::INFINITY);
    let (bottom, top) =
        curve.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
    // The domain's edges, where the minima stop being claimed.
    // Dashed (40 dashes), so they stand apart from the grid lines they may fall on.
    let dash = (top - bottom) / 80.0;
    let edges = [lo, hi]
        .into_iter()
        .filter(|x| *x > a && *x < b)
        .flat_map(|x| {
            (0..40)
                .map(move |k| ((x, bottom + 2.0 * k as f64 * dash), (x, bottom + (2 * k + 1) as f64 * dash)))
        })
        .collect();
    let paths = report
        .runs
        .iter()
        .map(|r| r.trajectory.iter().zip(&r.losses).map(|(p, &l)| (p[0], l)).collect())
        .collect();
    let mut series = vec![Series::new(format!("f = {}", info.formula), curve, Style::Line).coloured(6)];
    series.extend(run_series(report, paths, ((a, b), y)));
    series.push(minima_series(report));
    Panel::Chart {
        x_categories: Vec::new(),
        title: format!("{}: f = {}", info.name, info.formula),
        x_label: format!("x     ({KEY})"),
        y_label: "f(x)".into(),
        log_x: false,
        log_y: false,
        series,
        background: vec![Segments { segments: edges, grey: 60 }],
    }
}

fn contour(report: &DescentReport, surface: Surface) -> Panel {
    let info = &report.surface;
    let ([x0, x1], [y0, y1]) = (info.domain.0[0], info.domain.0[1]);
    // Every grid point in one pass through libtorch (a point at a time costs ~1 ms per 100).
    let f = |points: &[(f64, f64)]| {
        let points: Vec<Vec<f64>> = points.iter().map(|&(a, b)| vec![a, b]).collect();
        surface.values(&points).unwrap_or_else(|_| vec![f64::NAN; points.len()])
    };
    // Levels evenly spaced in log(f − min + 1): dense near the minimum, sparse up the walls.
    let coarse: Vec<(f64, f64)> = (0..=40)
        .flat_map(|i| (0..=40).map(move |j| (i, j)))
        .map(|(i, j)| (x0 + (x1 - x0) * i as f64 / 40.0, y0 + (y1 - y0) * j as f64 / 40.0))
        .collect();
    let samples: Vec<f64> = f(&coarse).into_iter().filter(|v| v.is_finite()).collect();
    let (lo, hi) = samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let levels: Vec<f64> =
        (1..=14).map(|k| lo - 1.0 + ((hi - lo + 1.0).ln() * k as f64 / 15.0).exp()).collect();
    let lines = contours(&f, (x0, x1), (y0, y1), 120, &levels);
    let paths = report.runs.iter().map(|r| r.trajectory.iter().map(|p| (p[0], p[1])).collect()).collect();
    let mut series = run_series(report, paths, ((x0, x1), (y0, y1)));
    series.push(minima_series(report));
    Panel::Chart {
        x_categories: Vec::new(),
        title: format!("{}: f = {}", info.name, info.formula),
        x_label: format!("x₁     ({KEY})"),
        y_label: "x₂".into(),
        log_x: false,
        log_y: false,
        series,
        background: vec![Segments { segments: lines, grey: 190 }],
    }
}

/// The loss per step, one line per run; log scale where every loss is positive and they span
/// more than two decades.
fn losses(report: &DescentReport) -> Panel {
    let finite = report.runs.iter().flat_map(|r| &r.losses).copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let log_y = lo > 0.0 && hi / lo > 100.0;
    let series = report
        .runs
        .iter()
        .map(|r| {
            let points = r.losses.iter().enumerate().map(|(k, &l)| (k as f64, l)).collect();
            Series::new(String::new(), points, Style::Line).coloured(colour(report, r))
        })
        .collect();
    Panel::Chart {
        x_categories: Vec::new(),
        title: format!("loss per step{}", if log_y { " (log scale)" } else { "" }),
        x_label: "step".into(),
        y_label: "f".into(),
        log_x: false,
        log_y,
        series,
        background: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descent::{run, DescentConfig, Optimizer};

    #[test]
    fn converged_runs_end_in_dots_each_its_own_colour() {
        let quiet = crate::observe::Quiet;
        let all = DescentConfig { optimizers: Some(Optimizer::ALL.to_vec()), ..DescentConfig::default() };
        let report = run(&all, tch::Device::Cpu, &quiet).unwrap();
        let figure = figure(&report).unwrap();
        let Panel::Chart { series, .. } = &figure.panels[0] else { panic!("a chart") };
        let ends: Vec<&Series> = series.iter().filter(|s| s.style == Style::End).collect();
        // Every run stayed on [-10, 10]: seven ends, none drawn as leaving the view.
        assert_eq!(ends.len(), 7);
        assert!(series.iter().all(|s| s.style != Style::Exit));
        let mut colours: Vec<usize> = ends.iter().filter_map(|s| s.colour).collect();
        colours.dedup();
        assert_eq!(colours.len(), 7, "one colour per optimizer: {colours:?}");
        assert!(
            !colours.contains(&6) && !colours.contains(&7),
            "grey and black are the curve's and the minima's"
        );
    }

    #[test]
    fn a_path_that_leaves_is_cut_at_the_edge_and_marked_there() {
        let path = [(0.0, 0.0), (1.0, 1.0), (3.0, 1.0)];
        let (kept, exit) = clip_path(&path, (-2.0, 2.0), (-2.0, 2.0));
        assert_eq!(kept, [(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(exit, Some((2.0, 1.0)));
        // Out through a corner's side: the nearer edge wins.
        assert_eq!(exit_point((0.0, 0.0), (4.0, 8.0), (-2.0, 2.0), (-2.0, 2.0)), (1.0, 2.0));
        let (_, exit) = clip_path(&[(0.0, 0.0), (1.0, 1.0)], (-2.0, 2.0), (-2.0, 2.0));
        assert_eq!(exit, None, "a path that stays inside has no exit");
        let (kept, exit) = clip_path(&[(1.0, 1.0), (f64::INFINITY, 0.0)], (-2.0, 2.0), (-2.0, 2.0));
        assert_eq!((kept.len(), exit), (1, Some((1.0, 1.0))), "an overflow leaves from the last point");
    }
}

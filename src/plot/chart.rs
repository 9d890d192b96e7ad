//! Line and point charts (series, paths and contour segments) on linear or log axes.

use super::*;

/// The range of `values`, widened a little (and made non-empty).
pub(super) fn span(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let pad = ((b - a) * 0.05).max(0.1);
        (10f64.powf(a - pad), 10f64.powf(b + pad))
    } else {
        // One value (a single epoch, one scored momentum) gets a readable range around it, not
        // ten ticks of the same number.
        let pad = if hi > lo {
            (hi - lo) * 0.05
        } else if lo != 0.0 {
            // Wide enough for distinct tick labels around a small value (0.0012, 1e-4).
            lo.abs() * 0.5
        } else {
            0.5
        };
        (lo - pad, hi + pad)
    }
}

/// The corner of the plot where the legend covers the fewest points: each corner's box (the
/// outer 45 % of the width, 35 % of the height) is counted on the axes' own scales.
pub(super) fn legend_corner(
    series: &[Series],
    x: (f64, f64, bool),
    y: (f64, f64, bool),
) -> SeriesLabelPosition {
    let unit = |v: f64, (lo, hi, log): (f64, f64, bool)| {
        if log {
            (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|&(a, b)| (unit(a, x), unit(b, y)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    // Lines are sampled at their points, which is enough for curves drawn from many points.
    let count = |right: bool, top: bool| {
        points
            .iter()
            .filter(|(a, b)| {
                (if right { *a > 0.55 } else { *a < 0.45 }) && (if top { *b > 0.65 } else { *b < 0.35 })
            })
            .count()
    };
    [
        (count(true, true), SeriesLabelPosition::UpperRight),
        (count(false, true), SeriesLabelPosition::UpperLeft),
        (count(true, false), SeriesLabelPosition::LowerRight),
        (count(false, false), SeriesLabelPosition::LowerLeft),
    ]
    .into_iter()
    .min_by_key(|(n, _)| *n)
    .map_or(SeriesLabelPosition::UpperRight, |(_, corner)| corner)
}
/// What a chart's axes show, worked out before anything is drawn.
struct Axes<'p> {
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
    log_y: bool,
    x_categories: &'p [String],
    /// Every x drawn is a whole number (epochs): no fractional ticks.
    integral_x: bool,
    legend: SeriesLabelPosition,
}

impl Axes<'_> {
    fn x_tick(&self, v: f64) -> String {
        if !self.x_categories.is_empty() {
            let k = v.round();
            let named = (v - k).abs() < 1e-9 && k >= 0.0 && (k as usize) < self.x_categories.len();
            return if named { self.x_categories[k as usize].clone() } else { String::new() };
        }
        if self.log_x {
            log_tick_label(v)
        } else if self.integral_x && v.fract().abs() > 1e-9 {
            String::new()
        } else {
            tick_label(v, self.x)
        }
    }

    fn y_tick(&self, v: f64) -> String {
        if self.log_y {
            log_tick_label(v)
        } else {
            tick_label(v, self.y)
        }
    }
}

fn chart_axes<'p>(panel: &'p Panel) -> Option<Axes<'p>> {
    let Panel::Chart { x_categories, log_x, log_y, series, background, .. } = panel else {
        return None;
    };
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    // The background (contour lines over a surface's domain) sets the view as well.
    let bx = background.iter().flat_map(|b| b.segments.iter().flat_map(|(a, c)| [a.0, c.0]));
    let by = background.iter().flat_map(|b| b.segments.iter().flat_map(|(a, c)| [a.1, c.1]));
    let x = if x_categories.is_empty() {
        span(xs.chain(bx), *log_x)
    } else {
        (-0.5, x_categories.len() as f64 - 0.5)
    };
    let y = span(ys.chain(by), *log_y);
    // Whole-number x values (epochs) get whole-number ticks only; not over a background (a
    // surface's contours span a continuous domain) or with nothing drawn.
    let mut drawn = series.iter().flat_map(|s| &s.points).map(|p| p.0).peekable();
    let integral_x = background.is_empty() && drawn.peek().is_some() && drawn.all(|x| x.fract() == 0.0);
    let legend = legend_corner(series, (x.0, x.1, *log_x), (y.0, y.1, *log_y));
    Some(Axes { x, y, log_x: *log_x, log_y: *log_y, x_categories, integral_x, legend })
}

pub(super) fn draw_chart<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, Shift>,
) -> Result<Option<Frame>>
where
    DB::ErrorType: 'static,
{
    let (Some(axes), Panel::Chart { title, .. }) = (chart_axes(panel), panel) else {
        return Ok(None);
    };
    let mut builder = ChartBuilder::on(area);
    builder.caption(title, font(20)).margin(12).x_label_area_size(42).y_label_area_size(70);
    let ((x0, x1), (y0, y1)) = (axes.x, axes.y);
    match (axes.log_x, axes.log_y) {
        (false, false) => {
            chart_body(&mut builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?, panel, &axes)
        }
        (false, true) => chart_body(
            &mut builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(err)?,
            panel,
            &axes,
        ),
        (true, false) => chart_body(
            &mut builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(err)?,
            panel,
            &axes,
        ),
        (true, true) => chart_body(
            &mut builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale()).map_err(err)?,
            panel,
            &axes,
        ),
    }
}

/// The mesh, the background, every series and the legend, on any pair of axis scales; returns
/// where the plotting area landed.
fn chart_body<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    panel: &Panel,
    axes: &Axes,
) -> Result<Option<Frame>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let Panel::Chart { x_label, y_label, series, background, .. } = panel else {
        return Ok(None);
    };
    let (px, py) = chart.plotting_area().get_pixel_range();
    let frame = Frame {
        pixels_x: (px.start, px.end),
        pixels_y: (py.start, py.end),
        x: axes.x,
        y: axes.y,
        log_x: axes.log_x,
        log_y: axes.log_y,
    };
    chart
        .configure_mesh()
        .x_label_formatter(&|v| axes.x_tick(*v))
        // One tick per choice on a category axis (plotters would skip some).
        .x_labels(if axes.x_categories.is_empty() { 10 } else { axes.x_categories.len() + 1 })
        .y_label_formatter(&|v| axes.y_tick(*v))
        .x_desc(x_label.as_str())
        .y_desc(y_label.as_str())
        .label_style(font(13))
        .axis_desc_style(font(15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for b in background {
        let c = RGBColor(b.grey, b.grey, b.grey);
        chart
            .draw_series(b.segments.iter().map(|&(p, q)| PathElement::new(vec![p, q], c.stroke_width(1))))
            .map_err(err)?;
    }
    for (i, s) in series.iter().enumerate() {
        draw_one_series(chart, s, PALETTE[s.colour.unwrap_or(i) % PALETTE.len()], axes)?;
    }
    if series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .label_font(font(13))
            .background_style(WHITE.mix(0.75))
            .border_style(RGBColor(180, 180, 180))
            .position(axes.legend.clone())
            .draw()
            .map_err(err)?;
    }
    Ok(Some(frame))
}

/// One series in its style; named series with something drawn get a legend entry whose mark
/// is the series' own (a line, a dot, a ring, a cross).
fn draw_one_series<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    s: &Series,
    color: RGBColor,
    axes: &Axes,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let points: Vec<(f64, f64)> = s
        .points
        .iter()
        .copied()
        .filter(|p| {
            p.0.is_finite() && p.1.is_finite() && (!axes.log_y || p.1 > 0.0) && (!axes.log_x || p.0 > 0.0)
        })
        .collect();
    let n = points.len().max(2) as f64;
    let (width, radius) = (s.size.unwrap_or(2), s.size.unwrap_or(3));
    let legend = match s.style {
        Style::Line | Style::LinePoints => {
            if s.style == Style::LinePoints {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, radius, color.filled())))
                    .map_err(err)?;
            }
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(width))).map_err(err)?
        }
        Style::Points => {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, color.filled()))).map_err(err)?
        }
        // Faint at the first point, solid at the last: the order of the steps is visible.
        Style::Graded => chart
            .draw_series(points.iter().enumerate().map(|(k, &p)| {
                Circle::new(p, radius, color.mix(0.15 + 0.85 * k as f64 / (n - 1.0)).filled())
            }))
            .map_err(err)?,
        Style::Highlight => chart
            .draw_series(points.iter().map(|&p| Circle::new(p, s.size.unwrap_or(7), color.stroke_width(3))))
            .map_err(err)?,
        Style::End => chart
            .draw_series(points.iter().flat_map(|&p| {
                [
                    Circle::new(p, s.size.unwrap_or(8), color.filled()),
                    Circle::new(p, s.size.unwrap_or(8), BLACK.stroke_width(1)),
                ]
            }))
            .map_err(err)?,
        Style::Exit => {
            chart.draw_series(points.iter().map(|&p| Cross::new(p, 8, color.stroke_width(3)))).map_err(err)?
        }
    };
    if !s.name.is_empty() && !points.is_empty() {
        let style = s.style;
        legend.label(s.name.clone()).legend(move |(x, y)| -> DynElement<'static, _, _> {
            match style {
                Style::Line | Style::LinePoints | Style::Graded => {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)).into_dyn()
                }
                Style::Points => Circle::new((x + 9, y), 3, color.filled()).into_dyn(),
                Style::Highlight => Circle::new((x + 9, y), 6, color.stroke_width(2)).into_dyn(),
                Style::End => Circle::new((x + 9, y), 6, color.filled()).into_dyn(),
                Style::Exit => Cross::new((x + 9, y), 6, color.stroke_width(2)).into_dyn(),
            }
        });
    }
    Ok(())
}

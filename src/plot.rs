//! Pictures, one small API for every command: a [`Figure`] is a stack of panels (line and
//! point charts, heat maps, image grids, bar charts, a laid-out graph), drawn with plotters
//! into PNG or SVG by the path's extension, and written atomically — a failed run leaves no
//! half picture. Text is drawn with DejaVu Sans compiled into the binary
//! (`assets/fonts/DejaVuSans.ttf`, its licence beside it), so a fresh machine with no fonts
//! installed renders the same PNG. Also: a one-line terminal chart for loss curves.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::usage;

/// The font every picture uses, compiled in.
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "nnopt-sans";

fn register_font() {
    static ONCE: Once = Once::new();
    // The bytes are a valid TTF compiled in; were they not, text would be missing, not wrong.
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// PNG or SVG, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

/// Where a picture goes: checked before any work starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub path: PathBuf,
    pub format: Format,
}

impl Target {
    /// Checks `path` for `flag`: a `.png` or `.svg` name (whether it can be written is the
    /// caller's to check; writing is atomic either way).
    pub fn new(flag: &str, path: &Path) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("png") => Format::Png,
            Some("svg") => Format::Svg,
            _ => {
                return Err(usage(format!(
                    "{flag} {}: give a file ending in .png or .svg (the format follows the extension)",
                    path.display()
                )))
            }
        };
        Ok(Target { path: path.to_path_buf(), format })
    }

    /// `--plot`, where given.
    pub fn optional(flag: &str, path: Option<&Path>) -> Result<Option<Self>> {
        path.map(|p| Target::new(flag, p)).transpose()
    }
}

/// Colours that stay apart on white and for the common colour-vision deficiencies (Okabe–Ito).
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
    // Beyond Okabe–Ito, for pictures with more than six series of their own.
    RGBColor(153, 0, 0),
    RGBColor(102, 51, 153),
    RGBColor(0, 102, 102),
    RGBColor(153, 102, 0),
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    Points,
    /// A line with a marker at every point.
    LinePoints,
    /// Larger markers, for what the eye should find (the best trial, a minimum, a start).
    Highlight,
    /// Dots that go from faint to solid along the series: the order of a path's steps.
    Graded,
    /// A large filled dot with a black rim: where a path ended.
    End,
    /// A cross: where a path left the view.
    Exit,
}

/// One named series of (x, y) points. An empty name keeps it out of the legend.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into [`PALETTE`]; by default the series' own position in its panel.
    pub colour: Option<usize>,
    /// Line width and marker radius in pixels, where the style's default will not do (paths
    /// that run along one another: the earlier drawn wider, so it shows around the later).
    pub size: Option<u32>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Self {
        Series { name: name.into(), points, style, colour: None, size: None }
    }

    /// A line width / marker radius of `pixels`.
    pub fn sized(mut self, pixels: u32) -> Self {
        self.size = Some(pixels);
        self
    }

    /// The same colour for several series (one optimizer's runs from several starts).
    pub fn coloured(mut self, palette_index: usize) -> Self {
        self.colour = Some(palette_index);
        self
    }
}

/// Lines joining points: a contour line's pieces, an optimizer's path.
#[derive(Debug, Clone)]
pub struct Segments {
    pub segments: Vec<((f64, f64), (f64, f64))>,
    pub grey: u8,
}

/// What one panel shows.
#[derive(Debug, Clone)]
pub enum Panel {
    /// Series on x/y axes; `log_x`/`log_y` use a log scale; `background` lines go underneath.
    /// With `x_categories`, x is a choice's index and its ticks are the choices' names.
    Chart {
        title: String,
        x_categories: Vec<String>,
        x_label: String,
        y_label: String,
        log_x: bool,
        log_y: bool,
        series: Vec<Series>,
        background: Vec<Segments>,
    },
    /// A matrix as coloured cells with their values, rows and columns labelled.
    Heatmap {
        title: String,
        rows: Vec<String>,
        columns: Vec<String>,
        values: Vec<Vec<f64>>,
        x_label: String,
        y_label: String,
    },
    /// Small grey images in a grid (`columns` per row), each `height`×`width`, values any range
    /// (each image scaled to its own min/max; blue negative, red positive when `signed`).
    Images { title: String, images: Vec<Vec<f32>>, height: usize, width: usize, columns: usize, signed: bool },
    /// Labelled bars, one highlighted.
    Bars { title: String, labels: Vec<String>, values: Vec<f64>, highlight: Option<usize>, y_label: String },
    /// Boxes in layers with arrows from each node to its inputs.
    Graph { title: String, nodes: Vec<(String, usize, usize)>, edges: Vec<(usize, usize, String)> },
}

/// A picture: panels side by side in `columns`, then rows.
#[derive(Debug, Clone)]
pub struct Figure {
    pub width: u32,
    pub height: u32,
    pub columns: usize,
    pub panels: Vec<Panel>,
}

impl Figure {
    /// One column of panels, each `panel_height` tall.
    pub fn stacked(width: u32, panel_height: u32, panels: Vec<Panel>) -> Self {
        let height = panel_height * panels.len().max(1) as u32;
        Figure { width, height, columns: 1, panels }
    }

    /// Draws the figure and writes it to `target`, atomically.
    pub fn save(&self, target: &Target) -> Result<()> {
        register_font();
        let bytes = match target.format {
            Format::Png => {
                let (w, h) = (self.width, self.height);
                let mut buffer = vec![255u8; (w * h * 3) as usize];
                {
                    let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(|e| anyhow!("drawing {}: {e}", target.path.display()))?;
                }
                encode_png(&buffer, w, h)?
            }
            Format::Svg => {
                let mut text = String::new();
                {
                    let root =
                        SVGBackend::with_string(&mut text, (self.width, self.height)).into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(|e| anyhow!("drawing {}: {e}", target.path.display()))?;
                }
                // The name registered for the compiled-in font means nothing to an SVG viewer:
                // name the font itself, then what to use where it is not installed.
                text.replace(
                    &format!("font-family=\"{FAMILY}\""),
                    "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\"",
                )
                .into_bytes()
            }
        };
        crate::fsutil::write_atomic(&target.path, &bytes)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let rows = self.panels.len().div_ceil(self.columns.max(1));
        let areas = root.split_evenly((rows.max(1), self.columns.max(1)));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            draw_panel(panel, area)?;
        }
        Ok(())
    }
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| anyhow!("PNG: {e}"))?;
        writer.write_image_data(rgb).map_err(|e| anyhow!("PNG: {e}"))?;
    }
    Ok(out)
}
/// A tick label on an axis spanning [lo, hi]: enough digits to tell neighbouring ticks apart
/// (about ten per axis), whole numbers without ".0", and scientific notation for an axis whose
/// values reach 1e5 or stay below 1e-3 — where `1.5e8` stays `1.5e8`, never rounded to `2e8`.
pub fn tick_label(v: f64, (lo, hi): (f64, f64)) -> String {
    let magnitude = lo.abs().max(hi.abs());
    // A tenth of the span: the spacing of plotters' ticks, give or take a factor of 2.5.
    let step = ((hi - lo).abs() / 10.0).max(magnitude * 1e-12).max(f64::MIN_POSITIVE);
    if v == 0.0 || v.abs() < step * 1e-9 {
        return "0".into();
    }
    // Ticks are multiples of 1, 2 or 5 × 10^k with 10^k ≤ step: k decimal places suffice
    // (one more for a 2.5 step).
    let k = step.log10().floor() as i32 - 1;
    if !(1e-3..1e5).contains(&magnitude) {
        let digits = (v.abs().log10().floor() as i32 - k).clamp(0, 15) as usize;
        let text = format!("{v:.digits$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (-k).clamp(0, 15) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A tick label on a log axis: ticks are powers of ten and their multiples, each its own
/// magnitude, so three significant digits always tell them apart.
pub fn log_tick_label(v: f64) -> String {
    tick_label(v, (v * 0.5, v * 1.5))
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// The range of `values`, widened a little (and made non-empty).
fn span(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
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
fn legend_corner(series: &[Series], x: (f64, f64, bool), y: (f64, f64, bool)) -> SeriesLabelPosition {
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

fn draw_panel<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    match panel {
        Panel::Chart { .. } => draw_chart(panel, area),
        Panel::Heatmap { title, rows, columns, values, x_label, y_label } => {
            draw_heatmap(area, (title, rows, columns, values), (x_label, y_label))
        }
        Panel::Images { title, images, height, width, columns, signed } => {
            draw_images(area, title, images, (height, width, columns), signed)
        }
        Panel::Bars { title, labels, values, highlight, y_label } => {
            draw_bars(area, (title, labels, values), highlight, y_label)
        }
        Panel::Graph { title, nodes, edges } => draw_graph(area, title, nodes, edges),
    }
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

fn draw_chart<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (Some(axes), Panel::Chart { title, .. }) = (chart_axes(panel), panel) else {
        return Ok(());
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

/// The mesh, the background, every series and the legend, on any pair of axis scales.
fn chart_body<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    panel: &Panel,
    axes: &Axes,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let Panel::Chart { x_label, y_label, series, background, .. } = panel else {
        return Ok(());
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
    Ok(())
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

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (title, rows, columns, values): (&str, &[String], &[String], &[Vec<f64>]),
    (x_label, y_label): (&str, &str),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (n_rows, n_cols) = (rows.len(), columns.len());
    let max = values.iter().flatten().copied().fold(0.0f64, f64::max).max(1e-12);
    // Segmented axes: labels sit at the centre of each cell.
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(110)
        // A segmented 0..n has n + 1 segments; 0..n − 1 has one per cell.
        .build_cartesian_2d(
            (0..n_cols.saturating_sub(1)).into_segmented(),
            (0..n_rows.saturating_sub(1)).into_segmented(),
        )
        .map_err(err)?;
    let name = |labels: &[String], v: &SegmentValue<usize>, flip: bool| match v {
        SegmentValue::CenterOf(i) if *i < labels.len() => {
            labels[if flip { labels.len() - 1 - i } else { *i }].clone()
        }
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n_cols)
        .y_labels(n_rows)
        .x_label_formatter(&|v| name(columns, v, false))
        .y_label_formatter(&|v| name(rows, v, true))
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(font(12))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    let centered = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    );
    for (r, row) in values.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let t = (v / max).clamp(0.0, 1.0);
            let cell = RGBColor((255.0 * (1.0 - 0.85 * t)) as u8, (255.0 * (1.0 - 0.55 * t)) as u8, 255);
            let y = n_rows - 1 - r;
            let corners = [
                (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
            ];
            chart.draw_series(std::iter::once(Rectangle::new(corners, cell.filled()))).map_err(err)?;
            let text_color = if t > 0.6 { WHITE } else { BLACK };
            let label = if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") };
            let at = (SegmentValue::CenterOf(c), SegmentValue::CenterOf(y));
            let style = font(12).color(&text_color).pos(centered);
            chart.draw_series(std::iter::once(Text::new(label, at, style))).map_err(err)?;
        }
    }
    Ok(())
}

fn draw_images<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    images: &[Vec<f32>],
    (height, width, columns): (&usize, &usize, &usize),
    signed: &bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = area.margin(10, 0, 0, 0).titled(title, font(18)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    let rows = images.len().div_ceil((*columns).max(1));
    let cell = ((w as usize).saturating_sub(10) / columns.max(&1))
        .min((h as usize).saturating_sub(10) / rows.max(1))
        .max(1);
    // One scale for both axes, so a picture keeps its shape and fits its cell.
    let scale = (cell.saturating_sub(4) / (*width).max(*height).max(1)).max(1);
    for (k, image) in images.iter().enumerate() {
        let (ox, oy) = ((k % columns) * cell + 5, (k / columns) * cell + 5);
        let bound = image.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        let (lo, hi) =
            image.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        for y in 0..*height {
            for x in 0..*width {
                let v = image[y * width + x];
                let color = if *signed {
                    let t = (v / bound).clamp(-1.0, 1.0);
                    if t >= 0.0 {
                        RGBColor(255, (255.0 * (1.0 - t)) as u8, (255.0 * (1.0 - t)) as u8)
                    } else {
                        RGBColor((255.0 * (1.0 + t)) as u8, (255.0 * (1.0 + t)) as u8, 255)
                    }
                } else {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
                    let g = (255.0 * t) as u8;
                    RGBColor(g, g, g)
                };
                let (px, py) = ((ox + x * scale) as i32, (oy + y * scale) as i32);
                area.draw(&Rectangle::new(
                    [(px, py), (px + scale as i32, py + scale as i32)],
                    color.filled(),
                ))
                .map_err(err)?;
            }
        }
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (title, labels, values): (&str, &[String], &[f64]),
    highlight: &Option<usize>,
    y_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let top = values.iter().copied().fold(0.0f64, f64::max).max(1e-12) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d((0..labels.len().saturating_sub(1)).into_segmented(), 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(labels.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("class")
        .y_desc(y_label)
        .label_style(font(11))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (i, &v) in values.iter().enumerate() {
        let color = if Some(i) == *highlight { PALETTE[1] } else { PALETTE[0] };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)],
                color.filled(),
            )))
            .map_err(err)?;
    }
    Ok(())
}

fn draw_graph<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    nodes: &[(String, usize, usize)],
    edges: &[(usize, usize, String)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let area = area.margin(10, 0, 0, 0).titled(title, font(18)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    let layers = nodes.iter().map(|n| n.1).max().unwrap_or(0) + 1;
    let box_h = 34i32;
    let layer_gap = ((h as i32 - 20) / layers as i32).max(box_h + 10);
    let position = |layer: usize, slot: usize| -> (i32, i32) {
        let in_layer = nodes.iter().filter(|n| n.1 == layer).count().max(1) as i32;
        let x = (w as i32) * (2 * slot as i32 + 1) / (2 * in_layer);
        let y = 10 + layer as i32 * layer_gap + box_h / 2;
        (x, y)
    };
    let centers: Vec<(i32, i32)> = nodes.iter().map(|n| position(n.1, n.2)).collect();
    for (from, to, label) in edges {
        let (a, b) = (centers[*from], centers[*to]);
        let (start, end) = ((a.0, a.1 + box_h / 2), (b.0, b.1 - box_h / 2));
        area.draw(&PathElement::new(vec![start, end], RGBColor(120, 120, 120).stroke_width(2)))
            .map_err(err)?;
        // An arrowhead at the input's end.
        let (dx, dy) = ((end.0 - start.0) as f64, (end.1 - start.1) as f64);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let tip = end;
        let left =
            ((tip.0 as f64 - 10.0 * ux + 5.0 * uy) as i32, (tip.1 as f64 - 10.0 * uy - 5.0 * ux) as i32);
        let right =
            ((tip.0 as f64 - 10.0 * ux - 5.0 * uy) as i32, (tip.1 as f64 - 10.0 * uy + 5.0 * ux) as i32);
        area.draw(&Polygon::new(vec![tip, left, right], RGBColor(120, 120, 120).filled())).map_err(err)?;
        let mid = ((start.0 + end.0) / 2 + 6, (start.1 + end.1) / 2 - 6);
        area.draw(&Text::new(label.clone(), mid, font(12).color(&RGBColor(90, 90, 90)))).map_err(err)?;
    }
    for ((label, _, _), &(x, y)) in nodes.iter().zip(&centers) {
        let half = (label.chars().count() as i32 * 4 + 12).max(40);
        let leaf = label.contains('(');
        let fill = if leaf { RGBColor(219, 234, 254) } else { RGBColor(245, 245, 245) };
        area.draw(&Rectangle::new([(x - half, y - box_h / 2), (x + half, y + box_h / 2)], fill.filled()))
            .map_err(err)?;
        area.draw(&Rectangle::new(
            [(x - half, y - box_h / 2), (x + half, y + box_h / 2)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        let style = font(13).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(label.clone(), (x, y), style)).map_err(err)?;
    }
    Ok(())
}

/// Contour lines of `f` over a rectangle at `levels`, by marching squares on an n×n grid:
/// the segments where f crosses each level.
pub fn contours(
    f: &dyn Fn(f64, f64) -> f64,
    x: (f64, f64),
    y: (f64, f64),
    n: usize,
    levels: &[f64],
) -> Vec<((f64, f64), (f64, f64))> {
    let at = |i: usize, j: usize| {
        (x.0 + (x.1 - x.0) * i as f64 / n as f64, y.0 + (y.1 - y.0) * j as f64 / n as f64)
    };
    let values: Vec<Vec<f64>> = (0..=n)
        .map(|i| {
            (0..=n)
                .map(|j| {
                    let (a, b) = at(i, j);
                    f(a, b)
                })
                .collect()
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_their_digits_at_every_magnitude() {
        // The ticks plotters puts on a 0..2e8 axis: 1.5e8 was printed "2e8" before.
        let axis = (0.0, 2e8);
        let labels: Vec<String> = [0.0, 5e7, 1e8, 1.5e8, 2e8].iter().map(|&v| tick_label(v, axis)).collect();
        assert_eq!(labels, ["0", "5e7", "1e8", "1.5e8", "2e8"]);
        assert_eq!(tick_label(1.25e-4, (0.0, 2e-4)), "1.25e-4");
        assert_eq!(tick_label(-3e6, (-5e6, 5e6)), "-3e6");
        // Mid-range: whole numbers bare, fractions with the digits the spacing needs.
        assert_eq!(tick_label(2.0, (0.0, 10.0)), "2");
        assert_eq!(tick_label(0.25, (0.0, 1.0)), "0.25");
        assert_eq!(tick_label(0.30000000000000004, (0.0, 1.0)), "0.3");
        assert_eq!(tick_label(1.0002, (1.0, 1.001)), "1.0002");
        assert_eq!(tick_label(99.5, (90.0, 100.0)), "99.5");
        // Rounding noise around zero is zero.
        assert_eq!(tick_label(1e-17, (-1.0, 1.0)), "0");
    }

    #[test]
    fn neighbouring_ticks_never_print_the_same() {
        for (lo, hi) in [
            (0.0, 2e8),
            (0.0, 1.0),
            (-1e-5, 1e-5),
            (1e5, 1.001e5),
            (0.1, 0.35),
            (-7.0, 3.0),
            (99.9999999, 100.0000001),
            (1e9, 1e9 + 10.0),
        ] {
            // Every multiple of a tenth of the span (what plotters draws, give or take).
            let step = (hi - lo) / 10.0;
            let labels: Vec<String> = (0..=10).map(|k| tick_label(lo + k as f64 * step, (lo, hi))).collect();
            for pair in labels.windows(2) {
                assert_ne!(pair[0], pair[1], "on [{lo}, {hi}]: {labels:?}");
            }
        }
    }

    #[test]
    fn log_ticks_name_their_power_of_ten() {
        assert_eq!(log_tick_label(1e-12), "1e-12");
        assert_eq!(log_tick_label(1000.0), "1000");
        assert_eq!(log_tick_label(2e9), "2e9");
        assert_eq!(log_tick_label(0.01), "0.01");
    }
}

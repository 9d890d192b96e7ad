//! Pictures, one small API for every command: a [`Figure`] is a stack of panels (line and
//! point charts, heat maps, image grids, bar charts, a laid-out graph), drawn with plotters
//! into PNG or SVG by the path's extension, and written atomically — a failed run leaves no
//! half picture. Text is drawn with DejaVu Sans compiled into the binary
//! (`assets/fonts/DejaVuSans.ttf`, its licence beside it), so a fresh machine with no fonts
//! installed renders the same PNG. Also: a one-line terminal chart for loss curves.
//!
//! Here, the figure model ([`Figure`], [`Panel`], [`Series`]) and the dispatch of a panel to its
//! drawing; one file per kind of panel — `chart.rs` (lines, points, paths, contour segments),
//! `heatmap.rs`, `images.rs`, `bars.rs`, `graph.rs` — and apart: `contours.rs` (computing contour
//! lines), `ticks.rs` (tick labels), `terminal.rs` (the terminal chart).

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::usage;

mod bars;
mod chart;
mod contours;
mod graph;
mod heatmap;
mod images;
mod terminal;
mod ticks;

pub use contours::contours;
pub use terminal::{sparkline, terminal_chart};
pub use ticks::{log_tick_label, tick_label};

use bars::draw_bars;
use chart::draw_chart;
use graph::draw_graph;
use heatmap::draw_heatmap;
use images::draw_images;

/// The font every picture uses, compiled in.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
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
    /// `captions`: a word over each tile (empty: none), e.g. "off" for a unit ReLU switched off.
    Images {
        title: String,
        images: Vec<Vec<f32>>,
        height: usize,
        width: usize,
        columns: usize,
        signed: bool,
        captions: Vec<String>,
    },
    /// Labelled bars, one highlighted.
    Bars { title: String, labels: Vec<String>, values: Vec<f64>, highlight: Option<usize>, y_label: String },
    /// Boxes in layers with arrows from each node to its inputs.
    Graph { title: String, nodes: Vec<(String, usize, usize)>, edges: Vec<(usize, usize, String)> },
}

/// Where a chart's plotting area landed in the picture, and the values at its edges: what a
/// page needs to turn a click on the picture into a point (`nnopt lab`'s start of a descent).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Frame {
    /// The plotting area's pixels, left to right and top to bottom (end exclusive).
    pub pixels_x: (i32, i32),
    pub pixels_y: (i32, i32),
    /// The values at the left and right edges, and at the bottom and top ones.
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub log_x: bool,
    pub log_y: bool,
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
                self.svg().map_err(|e| anyhow!("drawing {}: {e}", target.path.display()))?.into_bytes()
            }
        };
        crate::fsutil::write_atomic(&target.path, &bytes)
    }

    /// The figure as SVG text: what `--plot FILE.svg` writes.
    pub fn svg(&self) -> Result<String> {
        self.svg_framed().map(|(text, _)| text)
    }

    /// The SVG and, for each panel, where its chart's plotting area landed (`None`: not a chart):
    /// what `nnopt lab` sends the page.
    pub fn svg_framed(&self) -> Result<(String, Vec<Option<Frame>>)> {
        register_font();
        let mut text = String::new();
        let frames;
        {
            let root = SVGBackend::with_string(&mut text, (self.width, self.height)).into_drawing_area();
            frames = self.draw(&root)?;
            root.present().map_err(err)?;
        }
        // The name registered for the compiled-in font means nothing to an SVG viewer: name the
        // font itself, then what to use where it is not installed.
        let text = text.replace(
            &format!("font-family=\"{FAMILY}\""),
            "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\"",
        );
        Ok((text, frames))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<Vec<Option<Frame>>>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let rows = self.panels.len().div_ceil(self.columns.max(1));
        let areas = root.split_evenly((rows.max(1), self.columns.max(1)));
        self.panels.iter().zip(areas.iter()).map(|(panel, area)| draw_panel(panel, area)).collect()
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

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

fn draw_panel<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> Result<Option<Frame>>
where
    DB::ErrorType: 'static,
{
    let drawn = match panel {
        Panel::Chart { .. } => return draw_chart(panel, area),
        Panel::Heatmap { title, rows, columns, values, x_label, y_label } => {
            draw_heatmap(area, (title, rows, columns, values), (x_label, y_label))
        }
        Panel::Images { title, images, height, width, columns, signed, captions } => {
            draw_images(area, title, (images, captions), (height, width, columns), signed)
        }
        Panel::Bars { title, labels, values, highlight, y_label } => {
            draw_bars(area, (title, labels, values), highlight, y_label)
        }
        Panel::Graph { title, nodes, edges } => draw_graph(area, title, nodes, edges),
    };
    drawn.map(|()| None)
}

//! Heat maps: a matrix as coloured cells (confusion matrices).

use super::*;

pub(super) fn draw_heatmap<DB: DrawingBackend>(
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

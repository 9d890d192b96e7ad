//! Bar charts.

use super::*;

pub(super) fn draw_bars<DB: DrawingBackend>(
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

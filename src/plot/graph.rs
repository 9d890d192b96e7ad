//! A laid-out graph: boxes and the arrows between them (the autograd graph).

use super::*;

pub(super) fn draw_graph<DB: DrawingBackend>(
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

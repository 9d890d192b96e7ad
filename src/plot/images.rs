//! Image grids: images with their captions.

use super::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) fn draw_images<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    (images, captions): (&[Vec<f32>], &[String]),
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
        if let Some(caption) = captions.get(k).filter(|c| !c.is_empty()) {
            let (cx, cy) = (ox + width * scale / 2, oy + height * scale / 2);
            let style = font(14).pos(Pos::new(HPos::Center, VPos::Center));
            area.draw_text(caption, &style, (cx as i32, cy as i32)).map_err(err)?;
        }
    }
    Ok(())
}

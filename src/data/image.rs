//! Single images for `nnopt predict --image`: binary or ASCII PGM, or PNG (8 or 16 bit, gray,
//! gray+alpha, RGB or RGBA), read as the model expects them:
//! - transparency is composited onto a background: black under light ink, white under dark ink
//!   (as a viewer shows a drawing on a page);
//! - colour becomes grey by ITU-R 601 luma, 0.299·R + 0.587·G + 0.114·B, as PIL's
//!   `convert("L")` (and so MNIST's and Fashion-MNIST's own tools) makes it;
//! - the data sets are light ink on black: an image whose border is light (dark ink on white,
//!   as most photos and drawings are) is inverted by [`as_model_input`], which says so.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

/// A grayscale image, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Reads a PGM or PNG file, by content.
pub fn read(path: &Path) -> Result<GrayImage> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if bytes.starts_with(b"\x89PNG") {
        read_png(&bytes).with_context(|| format!("{}: unreadable PNG", path.display()))
    } else if bytes.starts_with(b"P5") || bytes.starts_with(b"P2") {
        read_pgm(&bytes).with_context(|| format!("{}: unreadable PGM", path.display()))
    } else {
        bail!("{}: not a PGM or PNG image", path.display())
    }
}

fn read_png(bytes: &[u8]) -> Result<GrayImage> {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let (w, h) = (reader.info().width as u64, reader.info().height as u64);
    // The header alone decides the buffer's size: refuse absurd ones before allocating.
    ensure!(w * h <= 1 << 24, "{w}×{h} pixels is far larger than any image a network here takes");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    let samples = &buf[..info.buffer_size()];
    let pixels = flatten(samples, channels);
    Ok(GrayImage { width: info.width as usize, height: info.height as usize, pixels })
}

/// Netpbm graymap: `P5`/`P2`, width, height, maxval (comments after `#`), then the samples.
fn read_pgm(bytes: &[u8]) -> Result<GrayImage> {
    let mut pos = 2;
    let mut header = [0usize; 3];
    for field in &mut header {
        loop {
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos < bytes.len() && bytes[pos] == b'#' {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            } else {
                break;
            }
        }
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        ensure!(pos > start, "truncated header");
        *field = std::str::from_utf8(&bytes[start..pos])?.parse()?;
    }
    let [width, height, maxval] = header;
    ensure!(maxval > 0, "maxval 0: a PGM's maxval is 1 to 255");
    ensure!(
        maxval <= 255,
        "maxval {maxval}: only 8-bit PGM (maxval ≤ 255) is supported; convert the image to 8 bits"
    );
    let count = width.checked_mul(height).filter(|&c| c > 0 && c <= 1 << 24).context("bad dimensions")?;
    let samples: Vec<usize> = if bytes.starts_with(b"P5") {
        let body = &bytes[(pos + 1).min(bytes.len())..];
        ensure!(body.len() >= count, "{} pixels promised, {} present", count, body.len());
        body[..count].iter().map(|&v| v as usize).collect()
    } else {
        let values: Vec<usize> = std::str::from_utf8(&bytes[pos..])?
            .split_ascii_whitespace()
            .take(count)
            .map(|v| v.parse::<usize>().map_err(|_| anyhow::anyhow!("sample {v:?} is not a whole number")))
            .collect::<Result<_>>()?;
        ensure!(values.len() == count, "{} pixels promised, {} present", count, values.len());
        values
    };
    if let Some((i, v)) = samples.iter().enumerate().find(|(_, &v)| v > maxval) {
        bail!("pixel {i} is {v}, above the maxval {maxval} the header declares");
    }
    // v ≤ maxval ≤ 255, so v·255 cannot overflow and the result fits a byte.
    let pixels = samples.into_iter().map(|v| (v * 255 / maxval) as u8).collect();
    Ok(GrayImage { width, height, pixels })
}

/// Writes a binary PGM (for examples and tests that make images).
pub fn encode_pgm(image: &GrayImage) -> Vec<u8> {
    let mut out = format!("P5\n{} {}\n255\n", image.width, image.height).into_bytes();
    out.extend_from_slice(&image.pixels);
    out
}

/// ITU-R 601 luma of an RGB pixel (PIL's `convert("L")`).
fn luma(rgb: &[u8]) -> f64 {
    0.299 * rgb[0] as f64 + 0.587 * rgb[1] as f64 + 0.114 * rgb[2] as f64
}

/// Grey pixels from `channels` interleaved samples (gray, gray+alpha, RGB, RGBA): colour to
/// luma. Transparency: where the colour channels carry the picture (a cut-out, black made
/// transparent), alpha is ignored; where they are one flat colour and the picture is in alpha
/// (ink whose opacity is its strength), it is composited onto black under light ink, white
/// under dark ink.
pub fn flatten(samples: &[u8], channels: usize) -> Vec<u8> {
    let gray = |px: &[u8]| if channels >= 3 { luma(px) } else { px[0] as f64 };
    let alpha = |px: &[u8]| match channels {
        2 => px[1] as f64 / 255.0,
        4 => px[3] as f64 / 255.0,
        _ => 1.0,
    };
    let pixels = samples.chunks_exact(channels.max(1));
    let (lo, hi) =
        pixels.clone().map(gray).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), g| (l.min(g), h.max(g)));
    if channels % 2 == 1 || hi - lo > 32.0 {
        return pixels.map(|px| gray(px).round().clamp(0.0, 255.0) as u8).collect();
    }
    // The ink's brightness: the mean grey of what is drawn, weighted by its opacity.
    let (ink, weight) =
        pixels.clone().fold((0.0, 0.0), |(s, w), px| (s + alpha(px) * gray(px), w + alpha(px)));
    let background = if weight > 0.0 && ink / weight > 127.5 { 0.0 } else { 255.0 };
    pixels
        .map(|px| (alpha(px) * gray(px) + (1.0 - alpha(px)) * background).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Whether an image is dark ink on a light background: the mean of its border pixels (where a
/// drawing's background shows) is above middle grey.
pub fn light_background(image: &GrayImage) -> bool {
    let (w, h) = (image.width, image.height);
    let border: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x + 1 == w || y + 1 == h)
        .map(|(x, y)| image.pixels[y * w + x])
        .collect();
    !border.is_empty() && border.iter().map(|&v| v as f64).sum::<f64>() / border.len() as f64 > 127.5
}

/// The image as the model expects it — light ink on black — and whether it was inverted to
/// get there (never with `no_invert`).
pub fn as_model_input(image: GrayImage, no_invert: bool) -> (GrayImage, bool) {
    if no_invert || !light_background(&image) {
        return (image, false);
    }
    let pixels = image.pixels.iter().map(|&v| 255 - v).collect();
    (GrayImage { pixels, ..image }, true)
}

/// Mean and standard deviation of the pixels, scaled to [0, 1] as the normalization sees them.
pub fn statistics(image: &GrayImage) -> (f64, f64) {
    let n = image.pixels.len().max(1) as f64;
    let mean = image.pixels.iter().map(|&v| v as f64 / 255.0).sum::<f64>() / n;
    let var = image.pixels.iter().map(|&v| (v as f64 / 255.0 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pixels: Vec<u8>) -> GrayImage {
        GrayImage { width: 3, height: 3, pixels }
    }

    #[test]
    fn colour_becomes_luma_and_transparency_its_background() {
        // Pure red, green, blue: PIL's convert("L") gives 76, 150, 29.
        assert_eq!(flatten(&[255, 0, 0, 0, 255, 0, 0, 0, 255], 3), [76, 150, 29]);
        // Black ink in the alpha channel (the ink's opacity is its value): on white, dark ink.
        assert_eq!(flatten(&[0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128], 4), [0, 255, 127]);
        // White ink whose opacity is its strength: on black, light ink — as the data sets are.
        assert_eq!(flatten(&[255, 255, 255, 0, 255, 128], 2), [255, 0, 128]);
        // A cut-out: the grey channel holds the picture, black made transparent; alpha ignored.
        assert_eq!(flatten(&[200, 255, 0, 0, 90, 255], 2), [200, 0, 90]);
    }

    #[test]
    fn a_light_background_is_inverted_and_said() {
        // Dark ink (0) in the middle of white (255).
        let drawing = image(vec![255, 255, 255, 255, 0, 255, 255, 255, 255]);
        let (input, inverted) = as_model_input(drawing.clone(), false);
        assert!(inverted);
        assert_eq!(input.pixels, [0, 0, 0, 0, 255, 0, 0, 0, 0]);
        assert_eq!(as_model_input(drawing.clone(), true), (drawing, false), "--no-invert");
        let data_like = image(vec![0, 0, 0, 0, 200, 0, 0, 0, 0]);
        assert!(!as_model_input(data_like, false).1, "light ink on black is left alone");
    }

    #[test]
    fn statistics_are_on_the_normalization_s_scale() {
        let (mean, std) = statistics(&image(vec![0, 0, 0, 0, 255, 255, 255, 255, 255]));
        assert!((mean - 5.0 / 9.0).abs() < 1e-12);
        assert!((std - (5.0f64 / 9.0 * 4.0 / 9.0).sqrt()).abs() < 1e-12);
    }
}

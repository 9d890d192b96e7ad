//! Single images for `nnopt predict --image`: binary or ASCII PGM, or PNG (8 or 16 bit, gray,
//! gray+alpha, RGB or RGBA; color is averaged to gray, alpha ignored). Pixels are expected as in
//! the data sets: light ink on a dark background.

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
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    let gray_channels = if channels >= 3 { 3 } else { 1 };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|px| (px[..gray_channels].iter().map(|&v| v as u32).sum::<u32>() / gray_channels as u32) as u8)
        .collect();
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
    ensure!((1..=255).contains(&maxval), "maxval {maxval}: only 8-bit PGM is supported");
    let count = width.checked_mul(height).filter(|&c| c > 0 && c <= 1 << 24).context("bad dimensions")?;
    let scale = |v: usize| (v * 255 / maxval).min(255) as u8;
    let pixels: Vec<u8> = if bytes.starts_with(b"P5") {
        let body = &bytes[(pos + 1).min(bytes.len())..];
        ensure!(body.len() >= count, "{} pixels promised, {} present", count, body.len());
        body[..count].iter().map(|&v| scale(v as usize)).collect()
    } else {
        let values: Vec<usize> = std::str::from_utf8(&bytes[pos..])?
            .split_ascii_whitespace()
            .take(count)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        ensure!(values.len() == count, "{} pixels promised, {} present", count, values.len());
        values.into_iter().map(scale).collect()
    };
    Ok(GrayImage { width, height, pixels })
}

/// Writes a binary PGM (for examples and tests that make images).
pub fn encode_pgm(image: &GrayImage) -> Vec<u8> {
    let mut out = format!("P5\n{} {}\n255\n", image.width, image.height).into_bytes();
    out.extend_from_slice(&image.pixels);
    out
}

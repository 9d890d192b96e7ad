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
    let (w, h) = (reader.info().width as u64, reader.info().height as u64);
    // The header alone decides the buffer's size: refuse absurd ones before allocating.
    ensure!(w * h <= 1 << 24, "{w}×{h} pixels is far larger than any image a network here takes");
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

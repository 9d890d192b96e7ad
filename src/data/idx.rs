//! The IDX file format of MNIST, Fashion-MNIST, KMNIST and friends, raw or gzipped.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only one these data sets
//! use), a rank byte, then `rank` big-endian u32 dimensions, then the elements in row-major
//! order. Images are rank 3 (magic 0x00000803: count × rows × columns), labels rank 1 (magic
//! 0x00000801). Every check names the file and says what is wrong; nothing here can read out of
//! bounds or panic on a malformed file, and a header cannot make it allocate more than the
//! bytes it was given (a gzip stream, at most `MAX_BYTES` decompressed).
//!
//! Self-contained (std, anyhow, flate2): the fuzz target in `fuzz/` compiles this file alone,
//! without libtorch.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

/// Magic number of an image file (unsigned bytes, rank 3).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a label file (unsigned bytes, rank 1).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Decompressed files larger than this are refused (MNIST's largest is 47 MB).
const MAX_BYTES: u64 = 4 << 30;

/// A decoded IDX file: its dimensions and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads `path`, decompressing it when it is gzip (by content, whatever its name).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        bail!("{}: is a directory, not an IDX file", path.display());
    }
    let mut file = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).with_context(|| format!("{}: cannot read", path.display()))?;
    maybe_gunzip(raw, path, MAX_BYTES)
}

/// `raw` itself, or its gzip decompression when it starts with gzip's magic, refusing more than
/// `limit` bytes of output (a small file can inflate to gigabytes).
pub fn maybe_gunzip(raw: Vec<u8>, path: &Path, limit: u64) -> Result<Vec<u8>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .take(limit + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("{}: corrupt gzip data", path.display()))?;
    ensure!(out.len() as u64 <= limit, "{}: decompresses to more than {limit} bytes", path.display());
    Ok(out)
}

/// Decodes IDX `bytes` read from `path` (named in errors), expecting magic `expected`.
pub fn parse(bytes: &[u8], path: &Path, expected: u32) -> Result<Idx> {
    let (dims, header) = check(bytes, path, expected)?;
    Ok(Idx { dims, data: bytes[header..].to_vec() })
}

/// [`parse`] on bytes it may keep: the data is the same buffer with the header cut off, not a
/// copy (a 47 MB image file stays 47 MB in memory, not 94).
pub fn parse_vec(mut bytes: Vec<u8>, path: &Path, expected: u32) -> Result<Idx> {
    let (dims, header) = check(&bytes, path, expected)?;
    bytes.drain(..header);
    Ok(Idx { dims, data: bytes })
}

/// Validates an IDX file's header against its length: the dimensions and the header's size.
fn check(bytes: &[u8], path: &Path, expected: u32) -> Result<(Vec<usize>, usize)> {
    let what =
        if expected == IMAGES_MAGIC { "images (magic 0x00000803)" } else { "labels (magic 0x00000801)" };
    let p = path.display();
    ensure!(
        bytes.len() >= 4,
        "{p}: only {} bytes, too short for an IDX header; expected {what}",
        bytes.len()
    );
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected {
        if bytes[0] != 0 || bytes[1] != 0 {
            bail!("{p}: not an IDX file (magic 0x{magic:08x}); expected {what}");
        }
        if bytes[2] != 0x08 {
            bail!("{p}: element type 0x{:02x} is not unsigned bytes (0x08); expected {what}", bytes[2]);
        }
        bail!(
            "{p}: rank {} (magic 0x{magic:08x}); expected {what} — are the image and label files swapped?",
            bytes[3]
        );
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    ensure!(
        bytes.len() >= header,
        "{p}: truncated header ({} bytes, rank {rank} needs {header})",
        bytes.len()
    );
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(count) = count.filter(|&c| c as u64 <= MAX_BYTES) else {
        bail!("{p}: dimensions {dims:?} are too large");
    };
    let body = bytes.len() - header;
    let shape = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    ensure!(
        body >= count,
        "{p}: truncated: the header promises {shape} = {count} bytes of data, the file has {body}"
    );
    ensure!(body == count, "{p}: {} bytes after the {shape} data the header describes", body - count);
    Ok((dims, header))
}

/// Reads an image file: `(count, rows, columns, pixels)`.
pub fn read_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    images(parse_vec(read_file(path)?, path, IMAGES_MAGIC)?, path)
}

/// Decodes an image file's bytes: `(count, rows, columns, pixels)`.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    images(parse(bytes, path, IMAGES_MAGIC)?, path)
}

fn images(idx: Idx, path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let &[n, h, w] = &idx.dims[..] else {
        bail!("{}: expected 3 dimensions, found {}", path.display(), idx.dims.len());
    };
    ensure!(h > 0 && w > 0, "{}: images of {h}×{w} pixels", path.display());
    Ok((n, h, w, idx.data))
}

/// Reads a label file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    Ok(parse_vec(read_file(path)?, path, LABELS_MAGIC)?.data)
}

/// Encodes an IDX file of unsigned bytes (used by tests and tools that write data sets).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `bytes` gzipped (for tests and tools that write data sets).
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

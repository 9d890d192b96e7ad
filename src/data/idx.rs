//! The IDX file format of MNIST, Fashion-MNIST, KMNIST and friends, raw or gzipped.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only one these data sets
//! use), a rank byte, then `rank` big-endian u32 dimensions, then the elements in row-major
//! order. Images are rank 3 (magic 0x00000803: count × rows × columns), labels rank 1 (magic
//! 0x00000801). Every check names the file and says what is wrong; nothing here can read out of
//! bounds or panic on a malformed file, and a header cannot make it allocate more than its
//! input can hold (a raw file: its length; a gzip stream: 1032 times its length, the most
//! deflate expands, and at most `MAX_BYTES`). The data is decoded straight into the buffer it
//! will live in ([`Buffer`]), never held twice.
//!
//! Self-contained (std, anyhow, flate2): the fuzz target in `fuzz/` compiles this file alone,
//! without libtorch.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

/// Magic number of an image file (unsigned bytes, rank 3).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a label file (unsigned bytes, rank 1).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Decompressed files larger than this are refused (MNIST's largest is 47 MB).
pub const MAX_BYTES: u64 = 4 << 30;
/// Deflate expands its input at most this much: a gzip file of n bytes cannot hold more than
/// 1032·n bytes, whatever its IDX header claims.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// A decoded IDX file: its dimensions and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Where a file's data goes: a buffer of exactly the size the header gives, made once that size
/// is known, so the bytes are decoded straight into their final home (for nnopt, a tensor's
/// memory) and a 47 MB image file never sits in memory twice.
pub trait Buffer {
    /// The buffer's bytes, all of them writable.
    fn bytes(&mut self) -> &mut [u8];
}

impl Buffer for Vec<u8> {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }
}

/// A `Vec` of `count` zero bytes: the [`Buffer`] of code that wants plain bytes.
pub fn vec_buffer(count: usize) -> Result<Vec<u8>> {
    Ok(vec![0; count])
}

/// Reads the IDX file at `path` — gzip or raw, by content, whatever its name — into the buffer
/// that `alloc` makes for the data, expecting magic `expected`. Returns the dimensions.
pub fn read<B: Buffer>(
    path: &Path,
    expected: u32,
    alloc: impl FnOnce(usize) -> Result<B>,
) -> Result<(Vec<usize>, B)> {
    if path.is_dir() {
        bail!("{}: is a directory, not an IDX file", path.display());
    }
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let metadata = file.metadata().with_context(|| format!("{}: cannot read", path.display()))?;
    // A pipe or device reports no length: then only the limit bounds what it may hold.
    let size = if metadata.is_file() { Some(metadata.len()) } else { None };
    read_from(BufReader::with_capacity(1 << 16, file), size, path, expected, MAX_BYTES, alloc)
}

/// [`read`] from any input of `size` bytes, when that is known (`path` only names it in
/// errors); a gzip stream may decompress to at most `limit` bytes.
pub fn read_from<R: BufRead, B: Buffer>(
    mut input: R,
    size: Option<u64>,
    path: &Path,
    expected: u32,
    limit: u64,
    alloc: impl FnOnce(usize) -> Result<B>,
) -> Result<(Vec<usize>, B)> {
    let start = input.fill_buf().with_context(|| format!("{}: cannot read", path.display()))?;
    if start.starts_with(&[0x1f, 0x8b]) {
        let most = size.map_or(limit, |s| s.saturating_mul(DEFLATE_MAX_RATIO).min(limit));
        let decoder = flate2::bufread::MultiGzDecoder::new(input).take(limit + 1);
        let source = Source { fail: "corrupt gzip data", size: Size::AtMost(most), limit };
        decode(decoder, path, expected, source, alloc)
    } else {
        match size {
            Some(size) => {
                let source = Source { fail: "cannot read", size: Size::Exactly(size), limit: u64::MAX };
                decode(input, path, expected, source, alloc)
            }
            None => {
                let source = Source { fail: "cannot read", size: Size::AtMost(limit), limit };
                decode(input.take(limit + 1), path, expected, source, alloc)
            }
        }
    }
}

/// Decodes IDX `bytes` read from `path` (named in errors), expecting magic `expected`.
pub fn parse(bytes: &[u8], path: &Path, expected: u32) -> Result<Idx> {
    let (dims, data) = read_from(bytes, Some(bytes.len() as u64), path, expected, MAX_BYTES, vec_buffer)?;
    Ok(Idx { dims, data })
}

/// What the decoder knows about its input before reading it.
struct Source {
    /// The error that a failed read means ("corrupt gzip data" for a gzip stream).
    fail: &'static str,
    /// How many bytes the decoded stream holds, or at most holds.
    size: Size,
    /// Decoded bytes beyond this are refused.
    limit: u64,
}

#[derive(Clone, Copy)]
enum Size {
    /// A raw file: its length.
    Exactly(u64),
    /// A gzip stream (what its compressed length or the limit allows), or an input of unknown
    /// length (the limit).
    AtMost(u64),
}

/// Reads header, data and trailer from the decoded stream `r`: the header is checked before the
/// data's buffer is made, and the buffer is made only when the input can hold what the header
/// promises, so a 16-byte file claiming 4 GB allocates nothing.
fn decode<R: Read, B: Buffer>(
    mut r: R,
    path: &Path,
    expected: u32,
    source: Source,
    alloc: impl FnOnce(usize) -> Result<B>,
) -> Result<(Vec<usize>, B)> {
    let p = path.display();
    let failed = |e: std::io::Error| anyhow::anyhow!("{p}: {}: {e}", source.fail);
    let mut head = vec![0; 4];
    let got = fill(&mut r, &mut head).map_err(failed)?;
    head.truncate(got);
    if got == 4 && u32::from_be_bytes([head[0], head[1], head[2], head[3]]) == expected {
        let mut dims = vec![0; 4 * head[3] as usize];
        let got = fill(&mut r, &mut dims).map_err(failed)?;
        head.extend_from_slice(&dims[..got]);
    }
    let (dims, header) = check_header(&head, path, expected)?;
    let count: usize = dims.iter().product();
    let shape = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    let promised = format!("{p}: truncated: the header promises {shape} = {count} bytes of data");
    match source.size {
        Size::Exactly(size) => {
            let body = size.saturating_sub(header as u64);
            ensure!(body >= count as u64, "{promised}, the file has {body}");
        }
        Size::AtMost(most) => ensure!(
            count as u64 <= most.saturating_sub(header as u64),
            "{promised}, more than the input can hold"
        ),
    }
    let mut buffer = alloc(count)?;
    let bytes = buffer.bytes();
    ensure!(bytes.len() == count, "{p}: a buffer of {} bytes for {count}", bytes.len());
    let body = fill(&mut r, bytes).map_err(failed)?;
    ensure!(body == count, "{promised}, the file has {body}");
    let after = std::io::copy(&mut r, &mut std::io::sink()).map_err(failed)?;
    ensure!(
        (header + count) as u64 + after <= source.limit,
        "{p}: decodes to more than {} bytes",
        source.limit
    );
    ensure!(after == 0, "{p}: {after} bytes after the {shape} data the header describes");
    Ok((dims, buffer))
}

/// Reads into `buf` until it is full or the input ends: the number of bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Validates an IDX header (`bytes` holds it, or all there was): the dimensions and the
/// header's size.
fn check_header(bytes: &[u8], path: &Path, expected: u32) -> Result<(Vec<usize>, usize)> {
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
    ensure!(count.is_some_and(|c| c as u64 <= MAX_BYTES), "{p}: dimensions {dims:?} are too large");
    Ok((dims, header))
}

/// An image file's `(count, rows, columns)` from its dimensions.
pub fn image_dims(dims: &[usize], path: &Path) -> Result<(usize, usize, usize)> {
    let &[n, h, w] = dims else {
        bail!("{}: expected 3 dimensions, found {}", path.display(), dims.len());
    };
    ensure!(h > 0 && w > 0, "{}: images of {h}×{w} pixels", path.display());
    Ok((n, h, w))
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

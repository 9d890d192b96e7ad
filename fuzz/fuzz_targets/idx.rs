//! Arbitrary bytes into nnopt's IDX reader, raw and through gzip: it must return Ok or an error,
//! never panic, never read out of bounds, never allocate what the header claims but the input
//! does not hold.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[path = "../../src/data/idx.rs"]
#[allow(dead_code)]
mod idx;

/// Small enough for libFuzzer's memory limit; the reader's own cap is the same code path.
const GUNZIP_LIMIT: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.idx");
    let Ok(bytes) = idx::maybe_gunzip(data.to_vec(), path, GUNZIP_LIMIT) else { return };
    for magic in [idx::IMAGES_MAGIC, idx::LABELS_MAGIC] {
        if let Ok(parsed) = idx::parse(&bytes, path, magic) {
            // What parse accepts is consistent: the dimensions account for every byte.
            let count: usize = parsed.dims.iter().product();
            assert_eq!(count, parsed.data.len());
        }
    }
    if let Ok((n, h, w, pixels)) = idx::parse_images(&bytes, path) {
        assert_eq!(n * h * w, pixels.len());
    }
});

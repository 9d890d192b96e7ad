//! Arbitrary bytes into nnopt's IDX reader, raw and through gzip: it must return Ok or an error,
//! never panic, never read out of bounds, never allocate what the header claims but the input
//! cannot hold.
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
    for magic in [idx::IMAGES_MAGIC, idx::LABELS_MAGIC] {
        // The buffer asked for is never larger than the input can hold: raw, its length; gzip,
        // 1032 times it (deflate's most), at most the limit.
        let most = if data.starts_with(&[0x1f, 0x8b]) {
            (data.len() as u64 * 1032).min(GUNZIP_LIMIT)
        } else {
            data.len() as u64
        };
        let alloc = |n: usize| {
            assert!(n as u64 <= most, "asked for {n} bytes from {} of input", data.len());
            idx::vec_buffer(n)
        };
        if let Ok((dims, bytes)) = idx::read_from(data, Some(data.len() as u64), path, magic, GUNZIP_LIMIT, alloc) {
            // What the reader accepts is consistent: the dimensions account for every byte.
            assert_eq!(dims.iter().product::<usize>(), bytes.len());
            if magic == idx::IMAGES_MAGIC {
                let _ = idx::image_dims(&dims, path);
            }
        }
    }
});

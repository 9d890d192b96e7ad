//! Writes 100 synthetic digits (a row per digit) as a 280×280 PGM, to see what `nnopt train`
//! learns from when no --data is given.
//!
//!     cargo run --example synthetic_digits -- digits.pgm

use nnopt::data::{image, synthetic};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "digits.pgm".into());
    let (images, labels) = synthetic::generate(100, 7);
    let images = images.index_select(0, &labels.argsort(0, false)); // 10 of each digit, in order
    let grid = images.reshape([10, 10, 28, 28]).permute([0, 2, 1, 3]).reshape([-1]);
    let img = image::GrayImage { width: 280, height: 280, pixels: Vec::<u8>::try_from(grid)? };
    std::fs::write(&path, image::encode_pgm(&img))?;
    println!("wrote {path}");
    Ok(())
}

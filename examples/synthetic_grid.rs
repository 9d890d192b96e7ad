//! Writes a grid of synthetic digits as a PGM, to look at what the generator draws.
//!
//!     cargo run --example synthetic_grid -- digits.pgm
use nnopt::data::{image, synthetic};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "digits.pgm".into());
    let (images, labels) = synthetic::generate(100, 7);
    // Sort by label so each row of the grid shows one digit.
    let order = labels.argsort(0, false);
    let images = images.index_select(0, &order);
    let grid = images.reshape([10, 10, 28, 28]).permute([0, 2, 1, 3]).reshape([280, 280]);
    let pixels = Vec::<u8>::try_from(grid.reshape([-1]))?;
    let img = image::GrayImage { width: 280, height: 280, pixels };
    std::fs::write(&path, image::encode_pgm(&img))?;
    println!("wrote {path}");
    Ok(())
}

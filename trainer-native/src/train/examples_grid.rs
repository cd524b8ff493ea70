//! A PNG showing what masking did: one row per example image with the original, its XGradCAM
//! heatmap (jet colours) and the masked image, scaled up so that 28x28 digits are visible.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgb, RgbImage};
use masktune::heatmap::{jet, level};

use super::atomic::write_atomic;
use super::error::{Result, TrainError};

/// One example: the raw and masked RGB HWC images and the saliency map in [0, 1].
pub struct Example<'a> {
    pub original: &'a [u8],
    pub map: &'a [f32],
    pub masked: &'a [u8],
}

/// Smallest on-screen side of one tile.
const MIN_TILE: usize = 96;
const GAP: usize = 4;

pub fn write_grid(path: &Path, width: usize, height: usize, examples: &[Example]) -> Result<()> {
    let scale = MIN_TILE.div_ceil(width.min(height)).max(1);
    let (tw, th) = (width * scale, height * scale);
    let cols = 3;
    let mut canvas = RgbImage::from_pixel(
        (cols * (tw + GAP) + GAP) as u32,
        (examples.len() * (th + GAP) + GAP) as u32,
        Rgb([255, 255, 255]),
    );
    for (row, ex) in examples.iter().enumerate() {
        let heat: Vec<u8> = ex.map.iter().flat_map(|&v| jet(level(v))).collect();
        for (col, pixels) in [ex.original, &heat[..], ex.masked].into_iter().enumerate() {
            let (x0, y0) = (GAP + col * (tw + GAP), GAP + row * (th + GAP));
            for y in 0..th {
                for x in 0..tw {
                    let p = ((y / scale) * width + x / scale) * 3;
                    canvas.put_pixel(
                        (x0 + x) as u32,
                        (y0 + y) as u32,
                        Rgb([pixels[p], pixels[p + 1], pixels[p + 2]]),
                    );
                }
            }
        }
    }
    let mut png = Cursor::new(Vec::new());
    canvas
        .write_to(&mut png, ImageFormat::Png)
        .map_err(|e| TrainError::compute("cannot encode the examples PNG", e))?;
    write_atomic(path, png.get_ref())
}

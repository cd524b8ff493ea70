//! From any decoded picture to the square RGB input of a model, one way for the trainer and the
//! page: composite transparency over white, crop the centre square (the shorter side), resize it
//! with an antialiased bilinear filter. The page decodes with the browser and the trainer with the
//! `image` crate; from the decoded pixels on, both run this code, so the same file gives the same
//! input in both.

use image::RgbImage;
use image::imageops::{self, FilterType};

/// RGBA bytes to RGB, each pixel composited over white (as an image viewer shows it).
pub fn rgba_over_white(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| {
            let alpha = u16::from(p[3]);
            let over_white = |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
            [over_white(p[0]), over_white(p[1]), over_white(p[2])]
        })
        .collect()
}

/// The centre square of a `width` x `height` RGB image (row-major HWC bytes), resized to
/// `side` x `side` with a triangle (bilinear) filter whose support widens when shrinking, so
/// that large photos are averaged, not aliased.
///
/// # Panics
/// If `rgb` is not `width * height * 3` bytes or a side is 0.
pub fn center_crop_resize(rgb: Vec<u8>, width: u32, height: u32, side: u32) -> Vec<u8> {
    assert!(
        width > 0 && height > 0 && side > 0,
        "image sides must be positive"
    );
    let image = RgbImage::from_raw(width, height, rgb).expect("rgb holds width * height * 3 bytes");
    let crop = width.min(height);
    let square =
        imageops::crop_imm(&image, (width - crop) / 2, (height - crop) / 2, crop, crop).to_image();
    if crop == side {
        return square.into_raw();
    }
    imageops::resize(&square, side, side, FilterType::Triangle).into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_stay() {
        assert_eq!(
            rgba_over_white(&[10, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128]),
            [10, 20, 30, 255, 255, 255, 127, 127, 127]
        );
    }

    #[test]
    fn the_centre_square_is_kept_and_an_exact_size_is_untouched() {
        // 4x2: columns 0 and 3 are cut off; the 2x2 centre is returned as it is.
        let rgb: Vec<u8> = (0..4 * 2 * 3).map(|i| i as u8).collect();
        let centre = center_crop_resize(rgb.clone(), 4, 2, 2);
        let expected: Vec<u8> = [1usize, 2, 5, 6]
            .iter()
            .flat_map(|&p| rgb[3 * p..3 * p + 3].to_vec())
            .collect();
        assert_eq!(centre, expected);
    }

    #[test]
    fn shrinking_averages_instead_of_sampling() {
        // A 1-pixel checkerboard shrunk 8x must come out mid-grey everywhere, not black or white.
        let (w, side) = (64u32, 8u32);
        let rgb: Vec<u8> = (0..w * w)
            .flat_map(|i| [if (i % w + i / w) % 2 == 0 { 255 } else { 0 }; 3])
            .collect();
        let small = center_crop_resize(rgb, w, w, side);
        assert!(small.iter().all(|&v| (120..=135).contains(&v)), "{small:?}");
    }
}

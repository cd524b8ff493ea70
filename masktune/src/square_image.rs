//! From an image file to the square RGB input of a model, one way for the trainer and the page:
//! decode it upright, composite transparency over white, crop the centre square (the shorter
//! side), resize it with an antialiased bilinear filter. The decoder reads PNG and JPEG in every
//! build (`trainer-native` adds BMP and WebP); the page hands the browser only the other formats
//! (WebP, GIF, AVIF, ...) and runs the rest of this code on what the browser decoded, so the same
//! PNG or JPEG gives the same input in both.

use std::io::Cursor;

/// What [`decoder`] gives: its `dimensions()` are known before the pixels are decoded.
pub use image::ImageDecoder;
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageReader, ImageResult, RgbImage};

/// The decoder of an image file's bytes, its format told by the bytes (not by a name): its
/// `dimensions()` can be checked before [`upright`] decodes it.
pub fn decoder(bytes: &[u8]) -> ImageResult<impl ImageDecoder + '_> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()?
        .into_decoder()
}

/// The decoded picture, turned as its EXIF orientation says (as image viewers and browsers show
/// a phone's photo), its pixel values as stored: no colour management, as datasets are read.
pub fn upright(mut decoder: impl ImageDecoder) -> ImageResult<DynamicImage> {
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// A decoded picture as a model's `side` x `side` input: RGB bytes, row-major HWC.
pub fn square_input(image: &DynamicImage, side: u32) -> Vec<u8> {
    let (width, height) = (image.width(), image.height());
    let rgb = if image.color().has_alpha() {
        rgba_over_white(image.to_rgba8().as_raw())
    } else {
        image.to_rgb8().into_raw()
    };
    center_crop_resize(rgb, width, height, side)
}

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
    use image::{ImageFormat, RgbaImage};

    /// `image` written as a file of `format`.
    fn encoded(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    /// A PNG file with an EXIF orientation (an `eXIf` chunk before the pixel data), as a camera's
    /// photo carries one.
    fn with_orientation(png: &[u8], orientation: u8) -> Vec<u8> {
        // Big-endian TIFF header, one IFD entry: tag 0x0112 (orientation), SHORT, 1 value.
        let mut exif =
            b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00".to_vec();
        exif.extend([orientation, 0, 0, 0, 0, 0, 0]);
        let mut chunk = (exif.len() as u32).to_be_bytes().to_vec();
        let mut body = b"eXIf".to_vec();
        body.extend(&exif);
        chunk.extend(&body);
        chunk.extend(crc32fast::hash(&body).to_be_bytes());
        // The 8-byte signature, then IHDR (8 + 13 + 4 bytes): the chunk goes right after it.
        let at = 8 + 25;
        [&png[..at], &chunk, &png[at..]].concat()
    }

    #[test]
    fn png_and_jpeg_files_are_decoded_with_their_size_known_first() {
        let image = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let png = encoded(DynamicImage::ImageRgb8(image.clone()), ImageFormat::Png);
        let decoder_of_png = decoder(&png).unwrap();
        assert_eq!(decoder_of_png.dimensions(), (5, 3));
        assert_eq!(upright(decoder_of_png).unwrap().to_rgb8(), image);
        let jpeg = encoded(DynamicImage::ImageRgb8(image), ImageFormat::Jpeg);
        let decoder_of_jpeg = decoder(&jpeg).unwrap();
        assert_eq!(decoder_of_jpeg.dimensions(), (5, 3));
        assert_eq!(upright(decoder_of_jpeg).unwrap().width(), 5);
    }

    #[test]
    fn a_photo_is_turned_upright_by_its_orientation() {
        // 2 wide, 1 high: red then blue. Orientation 6: the camera was turned a quarter to the
        // right, so the upright picture is 1 wide, 2 high, red on top.
        let image = RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let png = with_orientation(
            &encoded(DynamicImage::ImageRgb8(image), ImageFormat::Png),
            6,
        );
        let upright = upright(decoder(&png).unwrap()).unwrap().to_rgb8();
        assert_eq!(upright.dimensions(), (1, 2));
        assert_eq!(upright.into_raw(), [255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn bytes_that_are_no_image_are_refused() {
        assert!(decoder(b"not an image at all").is_err());
        let png = encoded(
            DynamicImage::ImageRgb8(RgbImage::new(4, 4)),
            ImageFormat::Png,
        );
        assert!(decoder(&png[..png.len() / 2]).and_then(upright).is_err());
    }

    #[test]
    fn the_square_input_puts_transparency_over_white() {
        let image = RgbaImage::from_raw(1, 1, vec![0, 0, 0, 0]).unwrap();
        let input = square_input(&DynamicImage::ImageRgba8(image), 1);
        assert_eq!(input, [255, 255, 255]);
    }

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

//! Turning a user's file into the model's input, in the worker. PNG and JPEG files are decoded
//! here by `masktune::square_image`, the decoder `trainer-native` uses, so the page and the
//! trainer see the same pixels (and a small image is ready in a fraction of a millisecond, where
//! the browser's decode and canvas took several). The other formats the browser knows (WebP, GIF,
//! AVIF, ...) are decoded by the browser. Either way `masktune::square_image` then centre-crops
//! and resizes the picture as the trainer does.

use masktune::square_image::{self, ImageDecoder as _};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ImageBitmap;

use super::canvas;

/// Files above this are refused before decoding: a photo is far smaller, and decoding a huge file
/// would stall the page.
pub const MAX_FILE_BYTES: f64 = 40.0 * 1024.0 * 1024.0;
/// Decoded images above this many pixels are refused for the same reason.
pub const MAX_PIXELS: u64 = 60_000_000;
/// Below this side there is nothing left to classify.
pub const MIN_SIDE: u32 = 8;

/// A square RGB image at the model's input size, plus what the user gave.
#[derive(Clone, Debug)]
pub struct DecodedImage {
    /// `side * side * 3` bytes, row-major, RGB.
    pub rgb: Vec<u8>,
    pub side: usize,
    pub source_width: u32,
    pub source_height: u32,
}

/// Why a file could not be used; the message tells the user what to do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ImageInputError {
    #[error("{name} is not an image ({kind}): choose a PNG, JPEG, WebP, GIF or BMP file")]
    NotAnImage { name: String, kind: String },
    #[error(
        "{name} could not be decoded: the file is corrupt or in a format this browser cannot read"
    )]
    Corrupt { name: String },
    #[error("{name} is too large ({detail}): use an image under 40 MB and 60 megapixels")]
    TooLarge { name: String, detail: String },
    #[error(
        "{name} is too small ({width}×{height} px): use an image at least {MIN_SIDE}×{MIN_SIDE} px"
    )]
    TooSmall {
        name: String,
        width: u32,
        height: u32,
    },
    #[error("the browser refused to draw {name}: {detail}")]
    Canvas { name: String, detail: String },
}

/// Decodes `blob` (a dropped or picked file, or a fetched example) into a `side`×`side` RGB image,
/// upright, cropping the centre square first so that nothing is stretched.
pub async fn decode(
    blob: &web_sys::Blob,
    name: &str,
    side: usize,
) -> Result<DecodedImage, ImageInputError> {
    let kind = blob.type_();
    // An empty type is allowed: some systems do not tell the type of a file; decoding decides.
    if !kind.is_empty() && !kind.starts_with("image/") {
        return Err(ImageInputError::NotAnImage {
            name: name.into(),
            kind,
        });
    }
    if blob.size() > MAX_FILE_BYTES {
        return Err(ImageInputError::TooLarge {
            name: name.into(),
            detail: format!("{:.1} MB", blob.size() / 1024.0 / 1024.0),
        });
    }
    let bytes = super::blob_bytes(blob)
        .await
        .map_err(|_| ImageInputError::Corrupt { name: name.into() })?;
    if let Ok(decoder) = square_image::decoder(&bytes) {
        let (width, height) = decoder.dimensions();
        check_size(name, width, height)?;
        if let Ok(image) = square_image::upright(decoder) {
            return Ok(DecodedImage {
                rgb: square_image::square_input(&image, side as u32),
                side,
                source_width: image.width(),
                source_height: image.height(),
            });
        }
    }
    // A format the decoder above does not read, or a file it could not: the browser may.
    decode_in_browser(blob, name, side).await
}

/// The browser's decoding of `blob` into a `side`×`side` RGB image.
async fn decode_in_browser(
    blob: &web_sys::Blob,
    name: &str,
    side: usize,
) -> Result<DecodedImage, ImageInputError> {
    let bitmap: ImageBitmap = JsFuture::from(
        create_raw_bitmap(blob).map_err(|_| ImageInputError::Corrupt { name: name.into() })?,
    )
    .await
    .map_err(|_| ImageInputError::Corrupt { name: name.into() })?
    .unchecked_into();
    let (width, height) = (bitmap.width(), bitmap.height());
    let result = check_size(name, width, height).and_then(|()| crop_resize(&bitmap, name, side));
    bitmap.close();
    let rgb = result?;
    Ok(DecodedImage {
        rgb,
        side,
        source_width: width,
        source_height: height,
    })
}

/// `createImageBitmap(blob, { colorSpaceConversion: "none" })`: the pixel values as stored, with
/// no colour management, as `masktune::square_image` decodes (an embedded colour profile would
/// otherwise change the numbers), and turned upright by the file's orientation as it does (the
/// browser's default). Through `Reflect`: web-sys's `ImageBitmapOptions` binding sits behind a
/// cargo feature nothing else here needs.
fn create_raw_bitmap(blob: &web_sys::Blob) -> Result<js_sys::Promise, JsValue> {
    let global = js_sys::global();
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"colorSpaceConversion".into(), &"none".into())?;
    let create: js_sys::Function =
        js_sys::Reflect::get(&global, &"createImageBitmap".into())?.dyn_into()?;
    create.call2(&global, blob, &options)?.dyn_into()
}

fn check_size(name: &str, width: u32, height: u32) -> Result<(), ImageInputError> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageInputError::TooLarge {
            name: name.into(),
            detail: format!("{width}×{height} px"),
        });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(ImageInputError::TooSmall {
            name: name.into(),
            width,
            height,
        });
    }
    Ok(())
}

/// The bitmap's pixels as the model's square input: the canvas only reads the decoded pixels of
/// the centre square out (copied at their own size, no smoothing), and `masktune::square_image`
/// resizes them exactly as `trainer-native` does.
fn crop_resize(bitmap: &ImageBitmap, name: &str, side: usize) -> Result<Vec<u8>, ImageInputError> {
    let canvas_error = |error: JsValue| ImageInputError::Canvas {
        name: name.into(),
        detail: format!("{error:?}"),
    };
    let (width, height) = (bitmap.width(), bitmap.height());
    // Only the centre square comes into wasm memory (a big photo is hundreds of megabytes).
    let crop = width.min(height);
    let (left, top, size) = (
        f64::from((width - crop) / 2),
        f64::from((height - crop) / 2),
        f64::from(crop),
    );
    let (_canvas, context) =
        canvas::reading_canvas(crop as usize, crop as usize).map_err(canvas_error)?;
    // The last picture read would show through this one's transparent pixels.
    context.clear_rect(0.0, 0.0, size, size);
    context.set_image_smoothing_enabled(false);
    context
        .draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            bitmap, left, top, size, size, 0.0, 0.0, size, size,
        )
        .map_err(canvas_error)?;
    let rgba = context
        .get_image_data(0.0, 0.0, size, size)
        .map_err(canvas_error)?
        .data()
        .0;
    Ok(square_image::center_crop_resize(
        square_image::rgba_over_white(&rgba),
        crop,
        crop,
        side as u32,
    ))
}

/// A picture of noise `side`×`side` pixels, as a file of `mime_type` (`image/png`, `image/jpeg`,
/// `image/webp`): the warm-up runs it through [`decode`] as if a user had given it. Noise, not a
/// blank, so that the decoders' code for real photos runs (and the browser compiles it) before a
/// user's first.
pub async fn noise_picture(side: usize, mime_type: &str) -> Result<web_sys::Blob, JsValue> {
    let mut state = 0x9e37_79b9_u32;
    let rgba: Vec<u8> = (0..side * side * 4)
        .map(|i| {
            // A small linear congruential generator; the alpha channel stays opaque.
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i % 4 == 3 { 255 } else { (state >> 24) as u8 }
        })
        .collect();
    canvas::encode(&rgba, side, side, mime_type).await
}

#[cfg(test)]
mod tests {
    use masktune::square_image;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// `width`×`height` RGBA pixels of opaque noise with a fully transparent quarter: the
    /// top-left one for an even `seed`, else the bottom-right one.
    fn noise_with_a_hole(width: usize, height: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9e37_79b9) | 1;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                let top_left = x < width / 2 && y < height / 2;
                let bottom_right = x >= width / 2 && y >= height / 2;
                let hole = if seed.is_multiple_of(2) {
                    top_left
                } else {
                    bottom_right
                };
                [next(), next(), next(), if hole { 0 } else { 255 }]
            })
            .collect()
    }

    #[wasm_bindgen_test]
    async fn the_browser_decodes_pictures_as_the_trainer_does_one_after_another() {
        let side = 16;
        // The same size twice, then others: what the canvas read before (opaque where this one's
        // hole is) never shows through a picture's transparent pixels, which come out white as
        // the trainer composites them.
        for (i, (width, height)) in [(40, 30), (40, 30), (24, 52), (30, 40)]
            .into_iter()
            .enumerate()
        {
            let rgba = noise_with_a_hole(width, height, i as u32);
            let file = canvas::encode(&rgba, width, height, "image/png")
                .await
                .unwrap();
            let bytes = crate::worker::blob_bytes(&file).await.unwrap();
            let image = square_image::upright(square_image::decoder(&bytes).unwrap()).unwrap();
            let trainer = square_image::square_input(&image, side as u32);

            let browser = decode_in_browser(&file, "noise.png", side).await.unwrap();

            assert_eq!(
                browser.rgb, trainer,
                "picture {i} ({width}×{height}) read by the browser"
            );
            assert_eq!(
                (browser.source_width, browser.source_height),
                (width as u32, height as u32)
            );
        }
    }

    /// The warm-up's pictures run both decoding paths: PNG and JPEG through
    /// `masktune::square_image`, WebP (in a browser that writes it, as Chromium does) through the
    /// browser's decoding.
    #[wasm_bindgen_test]
    async fn the_warm_up_pictures_take_both_decoding_paths() {
        for (mime_type, ours) in [
            ("image/png", true),
            ("image/jpeg", true),
            ("image/webp", false),
        ] {
            let picture = noise_picture(64, mime_type).await.unwrap();
            assert_eq!(picture.type_(), mime_type);
            let bytes = crate::worker::blob_bytes(&picture).await.unwrap();
            assert_eq!(
                square_image::decoder(&bytes).is_ok(),
                ours,
                "{mime_type} read by masktune::square_image"
            );
            let image = decode(&picture, "a warm-up picture", 16).await.unwrap();
            assert_eq!((image.rgb.len(), image.source_width), (16 * 16 * 3, 64));
        }
    }
}

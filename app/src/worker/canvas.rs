//! Offscreen canvases, the worker's way to the browser's image encoders and to the pixels of the
//! pictures the browser decodes: the pictures the page shows leave the worker as PNG files under
//! object URLs, so that the page's thread does no pixel work and keeps no pixels in its own memory
//! (a `blob:` address per picture, however many images it shows).

use std::cell::RefCell;
use std::thread::LocalKey;

use js_sys::{Function, Object, Promise, Reflect, Uint8ClampedArray};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

use crate::object_url::ObjectUrl;
use crate::protocol::Pictures;

/// A canvas and its 2D context.
pub type Canvas2d = (OffscreenCanvas, OffscreenCanvasRenderingContext2d);

/// Pictures up to this many pixels (a dataset's images, thumbnails) are read on the kept reading
/// canvas; a larger one gets a canvas of its own, so that a photo's full size does not stay in the
/// worker's memory (the kept canvas holds at most 4 MB).
const MAX_KEPT_READING_PIXELS: usize = 1024 * 1024;

/// An offscreen canvas of the given size with its 2D context (workers have no document), drawn
/// in memory rather than on the GPU (`willReadFrequently`): every canvas here is read back, its
/// pixels or a file of them.
pub fn offscreen(width: usize, height: usize) -> Result<Canvas2d, JsValue> {
    let canvas = OffscreenCanvas::new(width as u32, height as u32)?;
    let options = Object::new();
    Reflect::set(&options, &"willReadFrequently".into(), &true.into())?;
    let context = canvas
        .get_context_with_context_options("2d", &options)?
        .ok_or("no 2d context")?
        .unchecked_into::<OffscreenCanvasRenderingContext2d>();
    Ok((canvas, context))
}

/// Encodes `rgba` (`width * height * 4` bytes) as a file of `mime_type` (`image/png`,
/// `image/jpeg`).
pub async fn encode(
    rgba: &[u8],
    width: usize,
    height: usize,
    mime_type: &str,
) -> Result<Blob, JsValue> {
    finished(start_encoding(rgba, width, height, mime_type)?).await
}

/// The three pictures of an analysis (or of a Lab example), `side`×`side` each, as PNG files
/// encoded side by side.
pub async fn png_pictures(
    side: usize,
    input_rgb: &[u8],
    heatmap_rgba: &[u8],
    masked_rgb: &[u8],
) -> Result<Pictures, JsValue> {
    let png = |rgba: &[u8]| start_encoding(rgba, side, side, "image/png");
    let input = png(&rgba_of_rgb(input_rgb))?;
    let heatmap = png(heatmap_rgba)?;
    let masked = png(&rgba_of_rgb(masked_rgb))?;
    let url = ObjectUrl::of;
    Ok(Pictures {
        input: url(finished(input).await?)?,
        heatmap: url(finished(heatmap).await?)?,
        masked: url(finished(masked).await?)?,
    })
}

thread_local! {
    /// The canvas pictures are encoded on, kept from one picture to the next: a new canvas's
    /// first drawing costs the browser more than the rest of the encoding (in Chromium's worker,
    /// 1.5 ms to put a 28×28 picture on a new canvas).
    static ENCODING_CANVAS: RefCell<Option<Canvas2d>> = const { RefCell::new(None) };
    /// The canvas the browser's decoded pictures are read from, kept for the same reason (0.3-0.5
    /// ms less per WebP image, docs/BENCHMARKS.md).
    static READING_CANVAS: RefCell<Option<Canvas2d>> = const { RefCell::new(None) };
}

/// The canvas kept in `slot` if it is `width`×`height`, else a new one, kept from then on.
fn kept(
    slot: &'static LocalKey<RefCell<Option<Canvas2d>>>,
    width: usize,
    height: usize,
) -> Result<Canvas2d, JsValue> {
    slot.with_borrow_mut(|kept| {
        let fits = |(canvas, _): &Canvas2d| {
            (canvas.width(), canvas.height()) == (width as u32, height as u32)
        };
        match kept.as_ref().filter(|kept| fits(kept)) {
            Some(canvas) => Ok(canvas.clone()),
            None => Ok(kept.insert(offscreen(width, height)?).clone()),
        }
    })
}

/// A `width`×`height` canvas to read a picture's pixels from: the kept one, unless the picture
/// is large. It may still hold the last picture read.
pub fn reading_canvas(width: usize, height: usize) -> Result<Canvas2d, JsValue> {
    if width * height <= MAX_KEPT_READING_PIXELS {
        kept(&READING_CANVAS, width, height)
    } else {
        offscreen(width, height)
    }
}

/// Draws `rgba` on the encoding canvas and starts its encoding; the promise gives the `Blob`.
/// The canvas can take the next picture at once: the encoding is of a copy, taken here.
fn start_encoding(
    rgba: &[u8],
    width: usize,
    height: usize,
    mime_type: &str,
) -> Result<Promise, JsValue> {
    let (canvas, context) = kept(&ENCODING_CANVAS, width, height)?;
    // A copy outside the module's memory: ImageData refuses views of shared memory, which the
    // threaded build has.
    let pixels = Uint8ClampedArray::new_with_length(rgba.len() as u32);
    pixels.copy_from(rgba);
    let data =
        ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width as u32, height as u32)?;
    context.put_image_data(&data, 0.0, 0.0)?;
    // `convertToBlob({ type })`, through `Reflect`: web-sys's binding of its options sits behind
    // a cargo feature nothing else here needs.
    let options = Object::new();
    Reflect::set(&options, &"type".into(), &mime_type.into())?;
    let convert: Function = Reflect::get(&canvas, &"convertToBlob".into())?.dyn_into()?;
    convert.call1(&canvas, &options)?.dyn_into()
}

async fn finished(encoding: Promise) -> Result<Blob, JsValue> {
    Ok(JsFuture::from(encoding).await?.unchecked_into())
}

/// Opaque RGBA pixels of RGB ones.
fn rgba_of_rgb(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

#[cfg(test)]
mod tests {
    use masktune::square_image;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// The pixels of the PNG file at `url`, RGBA, as the trainer's decoder reads them.
    async fn decoded(url: &ObjectUrl) -> Vec<u8> {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response: web_sys::Response = JsFuture::from(scope.fetch_with_str(url.as_str()))
            .await
            .unwrap()
            .unchecked_into();
        let file: Blob = JsFuture::from(response.blob().unwrap())
            .await
            .unwrap()
            .unchecked_into();
        assert_eq!(file.type_(), "image/png");
        let bytes = crate::worker::blob_bytes(&file).await.unwrap();
        let decoder = square_image::decoder(&bytes).unwrap();
        square_image::upright(decoder)
            .unwrap()
            .to_rgba8()
            .into_raw()
    }

    #[wasm_bindgen_test]
    async fn the_pictures_come_out_as_png_files_of_the_same_pixels() {
        let side = 3;
        let rgb: Vec<u8> = (0..side * side * 3).map(|i| (i * 9) as u8).collect();
        let masked: Vec<u8> = rgb.iter().map(|v| v / 2).collect();
        // Translucent, as the heatmap is: the canvas keeps colours premultiplied by their
        // opacity, so at the heatmap's opacities they may come back a level off.
        let heatmap: Vec<u8> = (0..side * side)
            .flat_map(|i| {
                [
                    (i * 28) as u8,
                    200,
                    255 - (i * 28) as u8,
                    128 + (i * 14) as u8,
                ]
            })
            .collect();
        let pictures = png_pictures(side, &rgb, &heatmap, &masked).await.unwrap();

        assert_eq!(decoded(&pictures.input).await, rgba_of_rgb(&rgb));
        assert_eq!(decoded(&pictures.masked).await, rgba_of_rgb(&masked));
        let heatmap_back = decoded(&pictures.heatmap).await;
        for (back, given) in heatmap_back.iter().zip(&heatmap) {
            assert!(
                back.abs_diff(*given) <= 1,
                "{heatmap_back:?} is not {heatmap:?}"
            );
        }
    }
}

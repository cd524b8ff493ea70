//! Drawing the worker's pixel buffers: PNG data URLs for `<img src>`.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// A PNG data URL of an RGBA image.
pub fn rgba_data_url(rgba: &[u8], width: usize, height: usize) -> Result<String, JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.unchecked_into();
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let context = canvas
        .get_context("2d")?
        .ok_or("no 2d context")?
        .unchecked_into::<CanvasRenderingContext2d>();
    // A copy outside the module's memory: ImageData refuses views of shared memory, which the
    // threaded build has.
    let pixels = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    pixels.copy_from(rgba);
    let data = web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(
        &pixels,
        width as u32,
        height as u32,
    )?;
    context.put_image_data(&data, 0.0, 0.0)?;
    canvas.to_data_url()
}

/// A PNG data URL of an RGB image.
pub fn rgb_data_url(rgb: &[u8], width: usize, height: usize) -> Result<String, JsValue> {
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    rgba_data_url(&rgba, width, height)
}

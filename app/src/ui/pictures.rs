//! The worker's pictures of an image (PNG files), linked for the page's `<img>` elements.

use wasm_bindgen::JsValue;

use super::object_url::ObjectUrl;
use crate::protocol::Pictures;

/// The addresses of one image's three pictures, valid as long as this lives.
#[derive(Debug, PartialEq)]
pub struct PictureUrls {
    pub input: ObjectUrl,
    pub heatmap: ObjectUrl,
    pub masked: ObjectUrl,
}

impl PictureUrls {
    pub fn new(pictures: &Pictures) -> Result<Self, JsValue> {
        Ok(Self {
            input: ObjectUrl::of_blob(&pictures.input)?,
            heatmap: ObjectUrl::of_blob(&pictures.heatmap)?,
            masked: ObjectUrl::of_blob(&pictures.masked)?,
        })
    }
}

//! Object URLs: a file the page makes (a download) under a short `blob:` address, let go of when
//! the page no longer links it.

use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag, Url};

/// A `blob:` address of a file, revoked when dropped: keep it while an element may load it.
#[derive(Debug, PartialEq)]
pub struct ObjectUrl(String);

impl ObjectUrl {
    /// A file of `bytes` of the type `mime`.
    pub fn of_bytes(bytes: &[u8], mime: &str) -> Result<Self, JsValue> {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        let options = BlobPropertyBag::new();
        options.set_type(mime);
        let file = Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
        Url::create_object_url_with_blob(&file).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for ObjectUrl {
    fn drop(&mut self) {
        // Revoking fails only for an address that is not an object URL.
        let _ = Url::revoke_object_url(&self.0);
    }
}

//! Object URLs: a file the module made (a download on the page, a picture in the worker) under a
//! short `blob:` address, revoked when its owner lets go of it. An address lives only as long as
//! the global that made it, and the page replaces a compute worker that stops: a message carries
//! the file itself, and its receiver makes an address of its own.

use send_wrapper::SendWrapper;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag, Url};

/// A `blob:` address of a file: keep it while an element may load it. Dropped, it revokes the
/// address.
#[derive(Debug)]
pub struct ObjectUrl {
    url: String,
    file: SendWrapper<Blob>,
}

impl ObjectUrl {
    /// A file of `bytes` of the type `mime`.
    pub fn of_bytes(bytes: &[u8], mime: &str) -> Result<Self, JsValue> {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        let options = BlobPropertyBag::new();
        options.set_type(mime);
        Self::of(Blob::new_with_u8_array_sequence_and_options(
            &parts, &options,
        )?)
    }

    /// An address of `file`.
    pub fn of(file: Blob) -> Result<Self, JsValue> {
        Url::create_object_url_with_blob(&file).map(|url| Self {
            url,
            file: SendWrapper::new(file),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn file(&self) -> &Blob {
        &self.file
    }
}

impl PartialEq for ObjectUrl {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Drop for ObjectUrl {
    fn drop(&mut self) {
        // Revoking fails only for an address that is not an object URL.
        let _ = Url::revoke_object_url(&self.url);
    }
}

/// Sent as the file.
impl Serialize for ObjectUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&*self.file, serializer)
    }
}

/// Received, the file gets the receiver's own address.
impl<'de> Deserialize<'de> for ObjectUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let file: Blob = serde_wasm_bindgen::preserve::deserialize(deserializer)?;
        Self::of(file).map_err(|error| D::Error::custom(format!("{error:?}")))
    }
}

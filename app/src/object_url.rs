//! Object URLs: a file the module made (a download on the page, a picture in the worker) under a
//! short `blob:` address, revoked when its owner lets go of it. The worker hands its pictures'
//! addresses to the page, which then owns them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag, Url};

/// A `blob:` address of a file: keep it while an element may load it. Dropped, it revokes the
/// address, unless it was made to be sent (`handed_over`): the copy a message brings is the
/// owner then.
#[derive(Debug, PartialEq)]
pub struct ObjectUrl {
    url: String,
    owned: bool,
}

impl ObjectUrl {
    /// A file of `bytes` of the type `mime`.
    pub fn of_bytes(bytes: &[u8], mime: &str) -> Result<Self, JsValue> {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        let options = BlobPropertyBag::new();
        options.set_type(mime);
        let file = Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
        Self::of(&file, true)
    }

    /// An address of `file` to send: its receiver will own (and revoke) it.
    pub fn handed_over(file: &Blob) -> Result<Self, JsValue> {
        Self::of(file, false)
    }

    fn of(file: &Blob, owned: bool) -> Result<Self, JsValue> {
        Url::create_object_url_with_blob(file).map(|url| Self { url, owned })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl Drop for ObjectUrl {
    fn drop(&mut self) {
        if self.owned {
            // Revoking fails only for an address that is not an object URL.
            let _ = Url::revoke_object_url(&self.url);
        }
    }
}

/// Sent as the address alone.
impl Serialize for ObjectUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.url)
    }
}

/// Received, the address is the receiver's to revoke.
impl<'de> Deserialize<'de> for ObjectUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        Ok(Self { url, owned: true })
    }
}

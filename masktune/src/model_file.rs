//! One trained model in a file a user gives: a MaskTune bundle (`.mtb`, weights stored whole),
//! or a safetensors state dict under the PyTorch module's keys that carries the model's
//! description in its metadata (`trainer-native export --format safetensors` writes one, and so
//! does `save` in pytorch/masktune_models.py).

use burn::prelude::*;
use thiserror::Error;

use crate::bundle::{Bundle, BundleError, BundleMetadata, MAGIC};
use crate::models::AnyModel;
use crate::models::preprocess::InputSize;
use crate::pytorch::safetensors::{self, SafetensorsError};
use crate::pytorch::{Classifier, PytorchError, load_state_dict};

#[derive(Debug, Error)]
pub enum ModelFileError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Safetensors(#[from] SafetensorsError),
    #[error("{0}")]
    Weights(#[from] PytorchError),
    #[error(
        "neither a MaskTune bundle (.mtb) nor a safetensors file: give a bundle that \
         trainer-native or the Lab wrote, or a .safetensors file from `trainer-native export \
         --format safetensors`"
    )]
    UnknownFormat,
}

/// The two formats, told apart by their first bytes.
enum Format {
    Bundle,
    Safetensors,
}

/// Whether `bytes` are a bundle's (by its magic).
pub fn is_bundle(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn format(bytes: &[u8]) -> Result<Format, ModelFileError> {
    // safetensors: the header's length (u64, little-endian), then the header, a JSON object.
    let safetensors = bytes.len() > 8 && bytes[8] == b'{';
    if is_bundle(bytes) {
        Ok(Format::Bundle)
    } else if safetensors {
        Ok(Format::Safetensors)
    } else {
        Err(ModelFileError::UnknownFormat)
    }
}

/// What the file says its model is, without reading the weights.
pub fn metadata(bytes: &[u8]) -> Result<BundleMetadata, ModelFileError> {
    match format(bytes)? {
        Format::Bundle => Ok(Bundle::metadata(bytes)?),
        Format::Safetensors => {
            let metadata = safetensors::read_metadata(bytes)?;
            Ok(safetensors::bundle_metadata(&metadata)?)
        }
    }
}

/// The model, built on `device` in evaluation mode, and what it is.
pub fn read(bytes: &[u8], device: &Device) -> Result<(AnyModel, BundleMetadata), ModelFileError> {
    match format(bytes)? {
        Format::Bundle => Ok(Bundle::from_bytes(bytes, device)?),
        Format::Safetensors => {
            let (state, metadata) = safetensors::read(bytes)?;
            let meta = safetensors::bundle_metadata(&metadata)?;
            let model = meta.architecture.init(device);
            let (model, _) = load_state_dict(model, &meta.architecture, &state, Classifier::Load)?;
            Ok((model.valid(), meta))
        }
    }
}

/// Why the model `meta` describes cannot be fine-tuned on data of `class_names` (in label order)
/// read at `side` px (any square side where `None`), in words for the user.
pub fn check_fits(
    meta: &BundleMetadata,
    class_names: &[String],
    side: Option<usize>,
) -> Result<(), String> {
    if meta.class_names != class_names {
        return Err(format!(
            "the model's classes are {}, the data's {}: give a model trained on these classes, \
             in this order",
            meta.class_names.join(", "),
            class_names.join(", ")
        ));
    }
    let InputSize { height, width } = meta.input_size;
    match side {
        _ if height != width => Err(format!(
            "the model takes {height}x{width} px images; the data's are square"
        )),
        Some(side) if side != height => Err(format!(
            "the model takes {height} px images, the data's are {side} px"
        )),
        _ => Ok(()),
    }
}

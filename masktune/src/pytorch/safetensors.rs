//! State dicts in the safetensors format (what `safetensors.torch.save_file` writes and
//! `load_file` reads), with its string metadata; a model's description (architecture, classes,
//! input, normalisation) travels in that metadata under `masktune.` keys.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use ::safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use burn::tensor::{DType, TensorData};
use thiserror::Error;

use super::state_dict::StateDict;
use crate::bundle::{BundleError, BundleMetadata, CheckpointKind};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SafetensorsError {
    #[error("not a readable safetensors file: {0}")]
    Unreadable(String),
    #[error("'{key}' holds {dtype:?} values, which this reader does not take")]
    UnsupportedType { key: String, dtype: String },
    #[error(
        "the file's metadata lacks {missing}, which says what model its weights are for: write \
         it with `trainer-native export --format safetensors` (or `import` a PyTorch file first), \
         or save it from PyTorch with `save` in pytorch/masktune_models.py"
    )]
    NoModelMetadata { missing: String },
    #[error("the file's metadata '{key}' cannot be read: {reason}")]
    InvalidModelMetadata { key: String, reason: String },
}

impl From<SafeTensorError> for SafetensorsError {
    fn from(e: SafeTensorError) -> Self {
        Self::Unreadable(e.to_string())
    }
}

/// A safetensors file's metadata, without reading its tensors.
pub fn read_metadata(bytes: &[u8]) -> Result<HashMap<String, String>, SafetensorsError> {
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// The tensors of a safetensors file and its metadata.
pub fn read(bytes: &[u8]) -> Result<(StateDict, HashMap<String, String>), SafetensorsError> {
    let metadata = read_metadata(bytes)?;
    let mut state = StateDict::new();
    for (key, view) in SafeTensors::deserialize(bytes)?.iter() {
        let dtype = match view.dtype() {
            Dtype::F64 => DType::F64,
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::I64 => DType::I64,
            Dtype::I32 => DType::I32,
            other => {
                return Err(SafetensorsError::UnsupportedType {
                    key: key.to_string(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
        state.insert(key.to_string(), data);
    }
    Ok((state, metadata))
}

/// A safetensors file holding `state` (f32 and i64 tensors) and `metadata`.
pub fn write(
    state: &StateDict,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, SafetensorsError> {
    let mut views = Vec::with_capacity(state.len());
    for (key, data) in state {
        let dtype = match data.dtype() {
            DType::F32 => Dtype::F32,
            DType::I64 => Dtype::I64,
            other => {
                return Err(SafetensorsError::UnsupportedType {
                    key: key.clone(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        let view = TensorView::new(dtype, data.shape().to_vec(), data.as_bytes())?;
        views.push((key.as_str(), view));
    }
    Ok(::safetensors::tensor::serialize(views, Some(metadata))?)
}

/// The metadata keys of a model's description, as `pytorch/masktune_models.py` reads them.
mod keys {
    pub const ARCHITECTURE: &str = "masktune.architecture";
    pub const CLASS_NAMES: &str = "masktune.class_names";
    pub const INPUT_SIZE: &str = "masktune.input_size";
    pub const NORMALIZATION: &str = "masktune.normalization";
    pub const DATASET: &str = "masktune.dataset";
    pub const CHECKPOINT: &str = "masktune.checkpoint";
}

/// The safetensors metadata that describes the model `meta` describes (each field as JSON under
/// its `masktune.` key), with `format: pt` as `safetensors.torch` writes it. The training record,
/// thresholds and curves of a bundle stay out: they are not PyTorch's.
pub fn model_metadata(meta: &BundleMetadata) -> HashMap<String, String> {
    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).expect("bundle metadata serialises")
    }
    HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (keys::ARCHITECTURE.into(), json(&meta.architecture)),
        (keys::CLASS_NAMES.into(), json(&meta.class_names)),
        (keys::INPUT_SIZE.into(), json(&meta.input_size)),
        (keys::NORMALIZATION.into(), json(&meta.normalization)),
        (keys::DATASET.into(), json(&meta.dataset)),
        (keys::CHECKPOINT.into(), json(&meta.checkpoint)),
    ])
}

/// Whether a safetensors file's metadata holds a model's description (some of it at least).
pub fn describes_a_model(metadata: &HashMap<String, String>) -> bool {
    metadata.contains_key(keys::ARCHITECTURE)
}

/// The model a safetensors file's metadata describes, as [`model_metadata`] wrote it: a
/// bundle's metadata with no training record. Checked as a bundle's is.
pub fn bundle_metadata(
    metadata: &HashMap<String, String>,
) -> Result<BundleMetadata, SafetensorsError> {
    let required = [
        keys::ARCHITECTURE,
        keys::CLASS_NAMES,
        keys::INPUT_SIZE,
        keys::NORMALIZATION,
    ];
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|key| !metadata.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(SafetensorsError::NoModelMetadata {
            missing: missing.join(", "),
        });
    }
    const PRESENT: &str = "the required keys are there";
    fn field<T: DeserializeOwned>(
        metadata: &HashMap<String, String>,
        key: &str,
    ) -> Result<Option<T>, SafetensorsError> {
        metadata
            .get(key)
            .map(|text| serde_json::from_str(text))
            .transpose()
            .map_err(|e| SafetensorsError::InvalidModelMetadata {
                key: key.into(),
                reason: e.to_string(),
            })
    }
    let meta = BundleMetadata {
        architecture: field(metadata, keys::ARCHITECTURE)?.expect(PRESENT),
        class_names: field(metadata, keys::CLASS_NAMES)?.expect(PRESENT),
        input_size: field(metadata, keys::INPUT_SIZE)?.expect(PRESENT),
        normalization: field(metadata, keys::NORMALIZATION)?.expect(PRESENT),
        dataset: field(metadata, keys::DATASET)?.unwrap_or_default(),
        checkpoint: field(metadata, keys::CHECKPOINT)?.unwrap_or(CheckpointKind::Erm),
        training: None,
        selective_thresholds: Vec::new(),
        selective_summaries: Vec::new(),
    };
    meta.check()
        .map_err(|e| SafetensorsError::InvalidModelMetadata {
            key: keys::ARCHITECTURE.into(),
            reason: match e {
                BundleError::InconsistentMetadata(why) => why,
                other => other.to_string(),
            },
        })?;
    Ok(meta)
}

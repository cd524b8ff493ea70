//! State dicts in the safetensors format (what `safetensors.torch.save_file` writes and
//! `load_file` reads), with its string metadata.

use std::collections::HashMap;

use ::safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use burn::tensor::{DType, TensorData};
use thiserror::Error;

use super::state_dict::StateDict;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SafetensorsError {
    #[error("not a readable safetensors file: {0}")]
    Unreadable(String),
    #[error("'{key}' holds {dtype:?} values, which this reader does not take")]
    UnsupportedType { key: String, dtype: String },
}

impl From<SafeTensorError> for SafetensorsError {
    fn from(e: SafeTensorError) -> Self {
        Self::Unreadable(e.to_string())
    }
}

/// The tensors of a safetensors file and its metadata.
pub fn read(bytes: &[u8]) -> Result<(StateDict, HashMap<String, String>), SafetensorsError> {
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let metadata = header.metadata().clone().unwrap_or_default();
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

//! One error type for the training side; every message says which file or setting is at fault.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),

    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a valid checkpoint: {reason}")]
    CorruptCheckpoint { path: PathBuf, reason: String },

    #[error("checkpoint {path} does not match this run: {reason}")]
    CheckpointMismatch { path: PathBuf, reason: String },

    #[error("{path} is not a valid masked training set: {reason}")]
    CorruptMaskedSet { path: PathBuf, reason: String },

    #[error("{path} was made for another training set ({reason}): run `mask` again")]
    MaskedSetMismatch { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Bundle {
        path: PathBuf,
        #[source]
        source: masktune::bundle::BundleError,
    },

    #[error("{path}: {reason}")]
    PytorchWeights { path: PathBuf, reason: String },
    #[error("{path} is missing: {hint}")]
    Missing { path: PathBuf, hint: String },

    #[error("invalid settings: {0}")]
    Settings(String),

    #[error("{context}: {message}")]
    Compute {
        context: &'static str,
        message: String,
    },
}

impl TrainError {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io {
            action,
            path,
            source,
        }
    }

    /// Names the bundle file at `path` in an error reading or writing it.
    pub fn bundle(path: &Path) -> impl Fn(masktune::bundle::BundleError) -> TrainError {
        let path = path.to_path_buf();
        move |source| TrainError::Bundle {
            path: path.clone(),
            source,
        }
    }

    /// Wraps an error from a library (preprocessing, saliency, metrics, serialisation...).
    pub fn compute(context: &'static str, e: impl std::fmt::Display) -> TrainError {
        TrainError::Compute {
            context,
            message: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;

//! One error type for every dataset loader. Each message names the file or folder at fault and,
//! where the user can act on it, says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("dataset folder {path} does not exist or is empty: {hint}")]
    MissingDir { path: PathBuf, hint: String },

    #[error("required file {path} is missing: {hint}")]
    MissingFile { path: PathBuf, hint: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path} has magic number {found:#010x}, expected {expected:#010x}: \
         not an idx {kind} file (or a corrupt one); re-download it"
    )]
    BadMagic {
        path: PathBuf,
        kind: &'static str,
        expected: u32,
        found: u32,
    },

    #[error("{path} is truncated: expected {expected} bytes, found {found}; re-download it")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error(
        "{path} is {size} bytes, not a multiple of the {record}-byte record size: \
         not a CIFAR-10 binary batch (the Python or MATLAB version?) or a truncated one"
    )]
    BadRecordSize {
        path: PathBuf,
        size: u64,
        record: u64,
    },

    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error("{path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("unknown CelebA attribute {name:?}; valid names: {valid}")]
    UnknownAttribute { name: String, valid: String },

    #[error("cannot decode image {path}: {source}; remove or replace the file")]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },

    #[error("no {what} found in {path}: {hint}")]
    Empty {
        path: PathBuf,
        what: &'static str,
        hint: String,
    },

    #[error("download of {url} failed: {message}; check the connection or place the files by hand")]
    Download { url: String, message: String },

    #[error(
        "{what} has MD5 {found}, expected {expected}: the download is corrupt or was tampered with; \
         it was not kept, try again"
    )]
    Checksum {
        what: String,
        expected: String,
        found: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it happened on (std's errors do not carry it).
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}

pub type Result<T> = std::result::Result<T, DataError>;

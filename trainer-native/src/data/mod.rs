//! Datasets for the trainer, read from their files into [`masktune::data`]'s in-memory form,
//! [`ImageSet`]: RGB u8 images in row-major HWC order with labels and, where the dataset defines
//! one, a spurious-attribute group.

pub mod celeba;
pub mod cifar10;
pub mod download;
mod error;
pub mod image_folder;
pub mod mnist;
pub mod spurious_mnist;

pub use error::{DataError, Result};
pub use masktune::data::{ImageSet, Split};

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(DataError::io(path))
}

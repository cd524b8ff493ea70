//! MNIST from the four standard idx files (gzipped as distributed, or already unpacked), parsed
//! by [`masktune::data::mnist_idx`]: train (55,000), validation (5,000 held out of the 60,000
//! training images by the seed) and test (10,000). Smaller files in the same format (the Lab's
//! subset) are split by the same rule.

use std::path::{Path, PathBuf};

use masktune::data::mnist_idx::{self, IdxError, IdxFile};

use super::{DataError, ImageSet, Result, Split, read_file};

pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

const HINT: &str = "put the four MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) there, or run the trainer again with \
    --download";

/// Train, validation (seeded holdout, [`mnist_idx::validation_size`]) and test.
pub fn load(dir: &Path, val_seed: u64) -> Result<Split> {
    let (train_full, test) = load_official(dir)?;
    Ok(mnist_idx::split(train_full, test, val_seed))
}

/// The official training (60,000) and test (10,000) sets, in file order.
pub fn load_official(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: HINT.into(),
        });
    }
    Ok((
        load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
        load_pair(dir, TEST_IMAGES, TEST_LABELS)?,
    ))
}

fn load_pair(dir: &Path, images_name: &str, labels_name: &str) -> Result<ImageSet> {
    let (images_path, image_bytes) = read_idx_file(dir, images_name)?;
    let (labels_path, label_bytes) = read_idx_file(dir, labels_name)?;
    mnist_idx::digit_set(&image_bytes, &label_bytes).map_err(|(file, error)| {
        let path = match file {
            IdxFile::Images => images_path,
            IdxFile::Labels => labels_path,
        };
        with_path(path, error)
    })
}

/// Reads `name.gz` (decompressing it) or, failing that, the unpacked `name`.
fn read_idx_file(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        let bytes = mnist_idx::unpacked(read_file(&gz)?).map_err(DataError::io(&gz))?;
        return Ok((gz, bytes));
    }
    let raw = dir.join(name);
    if raw.is_file() {
        let bytes = read_file(&raw)?;
        return Ok((raw, bytes));
    }
    Err(DataError::MissingFile {
        path: gz,
        hint: HINT.into(),
    })
}

/// The loaders' error for a file that is not a valid idx file, with what to do about it.
fn with_path(path: PathBuf, error: IdxError) -> DataError {
    match error {
        IdxError::BadMagic {
            kind,
            expected,
            found,
        } => DataError::BadMagic {
            path,
            kind,
            expected,
            found,
        },
        IdxError::Truncated { expected, found } => DataError::Truncated {
            path,
            expected,
            found,
        },
        IdxError::Invalid(message) => DataError::Invalid { path, message },
    }
}

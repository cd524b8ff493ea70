//! MNIST from the four standard idx files (gzipped as distributed, or already unpacked).
//!
//! Gray digits are replicated to RGB because the spurious-MNIST shortcut is a red square.
//! Validation: [`VAL_SIZE`] images held out of the 60,000 training images, chosen by the seed
//! ([`ImageSet::split_holdout`]); train keeps the other 55,000 in file order. Test: the 10,000.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::{DataError, ImageSet, Result, Split, read_file};

pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Images held out of the training files for validation.
pub const VAL_SIZE: usize = 5_000;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const HINT: &str = "put the four MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) there, or run the trainer again with \
    --download";

/// Train (55,000), validation ([`VAL_SIZE`], seeded holdout) and test (10,000).
pub fn load(dir: &Path, val_seed: u64) -> Result<Split> {
    let (train_full, test) = load_official(dir)?;
    Ok(Split::holding_out(train_full, test, VAL_SIZE, val_seed))
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
    let (height, width, gray) = parse_images(&image_bytes, &images_path)?;
    let labels = parse_labels(&label_bytes, &labels_path)?;
    let n = labels.len();
    if gray.len() != n * height * width {
        return Err(DataError::Invalid {
            path: labels_path,
            message: format!(
                "{n} labels for {} images in {}",
                gray.len() / (height * width),
                images_path.display()
            ),
        });
    }
    Ok(ImageSet {
        images: gray.iter().flat_map(|&v| [v, v, v]).collect(),
        width,
        height,
        labels,
        groups: None,
        class_names: (0..10).map(|d| d.to_string()).collect(),
        group_names: Vec::new(),
    })
}

/// Reads `name.gz` (decompressing it) or, failing that, the unpacked `name`.
fn read_idx_file(dir: &Path, name: &str) -> Result<(std::path::PathBuf, Vec<u8>)> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        let mut bytes = Vec::new();
        GzDecoder::new(read_file(&gz)?.as_slice())
            .read_to_end(&mut bytes)
            .map_err(DataError::io(&gz))?;
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

/// Parses an idx3 image file: returns (rows, cols, pixels of all images).
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let header = header(bytes, path, 4, IMAGES_MAGIC, "image")?;
    let (n, rows, cols) = (header[1], header[2], header[3]);
    if rows == 0 || cols == 0 {
        return Err(DataError::Invalid {
            path: path.to_path_buf(),
            message: format!("image size {rows}x{cols} in the header"),
        });
    }
    // Saturating: a corrupt header must give an error, not an overflow.
    let body = body(bytes, path, 16, n.saturating_mul(rows).saturating_mul(cols))?;
    Ok((rows, cols, body.to_vec()))
}

/// Parses an idx1 label file; every label must be a digit 0-9.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>> {
    let n = header(bytes, path, 2, LABELS_MAGIC, "label")?[1];
    let body = body(bytes, path, 8, n)?;
    if let Some(pos) = body.iter().position(|&l| l > 9) {
        return Err(DataError::Invalid {
            path: path.to_path_buf(),
            message: format!("label {} of record {pos} is not a digit 0-9", body[pos]),
        });
    }
    Ok(body.iter().map(|&l| l as u32).collect())
}

/// The first `words` big-endian u32s, the first being the magic number.
fn header(
    bytes: &[u8],
    path: &Path,
    words: usize,
    magic: u32,
    kind: &'static str,
) -> Result<Vec<usize>> {
    if bytes.len() < words * 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: (words * 4) as u64,
            found: bytes.len() as u64,
        });
    }
    let values: Vec<u32> = bytes[..words * 4]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if values[0] != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            kind,
            expected: magic,
            found: values[0],
        });
    }
    Ok(values.into_iter().map(|v| v as usize).collect())
}

/// The `len` data bytes after the header; shorter is truncation, longer is not an idx file.
fn body<'a>(bytes: &'a [u8], path: &Path, start: usize, len: usize) -> Result<&'a [u8]> {
    let expected = start.saturating_add(len);
    if bytes.len() < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: expected as u64,
            found: bytes.len() as u64,
        });
    }
    if bytes.len() > expected {
        return Err(DataError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "{} bytes after the {expected} that the header announces",
                bytes.len() - expected
            ),
        });
    }
    Ok(&bytes[start..])
}

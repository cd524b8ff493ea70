//! MNIST's idx files, from their bytes: the trainer reads them from disk, the page's Lab fetches
//! them (a subset written in the same format by scripts/make_lab_data.py). Both may be gzipped,
//! as MNIST is distributed.
//!
//! Gray digits are replicated to RGB because the spurious-MNIST shortcut is a red square.
//! Validation: [`validation_size`] training images held out, chosen by the seed
//! ([`ImageSet::split_holdout`]); train keeps the others in file order.

use std::io::Read;

use flate2::read::GzDecoder;

use super::{ImageSet, Split};

/// Images held out of MNIST's 60,000 training images for validation.
pub const VAL_SIZE: usize = 5_000;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// What is wrong with one idx file (the caller knows its name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    #[error(
        "magic number {found:#010x}, expected {expected:#010x}: not an idx {kind} file \
         (or a corrupt one)"
    )]
    BadMagic {
        kind: &'static str,
        expected: u32,
        found: u32,
    },
    #[error("truncated: expected {expected} bytes, found {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("{0}")]
    Invalid(String),
}

/// Which of the pair of files an [`IdxError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxFile {
    Images,
    Labels,
}

/// How many of `train_images` training images validation holds out: [`VAL_SIZE`], or a sixth
/// of a smaller file (the Lab's subset of 12,000 gives 10,000 / 2,000).
pub fn validation_size(train_images: usize) -> usize {
    VAL_SIZE.min(train_images / 6)
}

/// Train, validation (held out by `val_seed`) and test from the training and test files' digits.
pub fn split(train_full: ImageSet, test: ImageSet, val_seed: u64) -> Split {
    let val_size = validation_size(train_full.len());
    Split::holding_out(train_full, test, val_size, val_seed)
}

/// The digits of an image file and its label file: ten classes "0".."9", RGB.
pub fn digit_set(image_bytes: &[u8], label_bytes: &[u8]) -> Result<ImageSet, (IdxFile, IdxError)> {
    let (height, width, gray) = parse_images(image_bytes).map_err(|e| (IdxFile::Images, e))?;
    let labels = parse_labels(label_bytes).map_err(|e| (IdxFile::Labels, e))?;
    let images = gray.len() / (height * width);
    if images != labels.len() {
        return Err((
            IdxFile::Labels,
            IdxError::Invalid(format!(
                "{} labels for the {images} images of its image file",
                labels.len()
            )),
        ));
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

/// The idx bytes of a file as stored: inflated if they are gzip (its magic number starts
/// them), as they are otherwise (a web server may already have undone the gzip).
pub fn unpacked(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    GzDecoder::new(bytes.as_slice()).read_to_end(&mut out)?;
    Ok(out)
}

/// Parses an idx3 image file: returns (rows, cols, pixels of all images).
pub fn parse_images(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), IdxError> {
    let header = header(bytes, 4, IMAGES_MAGIC, "image")?;
    let (n, rows, cols) = (header[1], header[2], header[3]);
    if rows == 0 || cols == 0 {
        return Err(IdxError::Invalid(format!(
            "image size {rows}x{cols} in the header"
        )));
    }
    // Saturating: a corrupt header must give an error, not an overflow.
    let body = body(bytes, 16, n.saturating_mul(rows).saturating_mul(cols))?;
    Ok((rows, cols, body.to_vec()))
}

/// Parses an idx1 label file; every label must be a digit 0-9.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u32>, IdxError> {
    let n = header(bytes, 2, LABELS_MAGIC, "label")?[1];
    let body = body(bytes, 8, n)?;
    if let Some(pos) = body.iter().position(|&l| l > 9) {
        return Err(IdxError::Invalid(format!(
            "label {} of record {pos} is not a digit 0-9",
            body[pos]
        )));
    }
    Ok(body.iter().map(|&l| l as u32).collect())
}

/// The first `words` big-endian u32s, the first being the magic number.
fn header(
    bytes: &[u8],
    words: usize,
    magic: u32,
    kind: &'static str,
) -> Result<Vec<usize>, IdxError> {
    if bytes.len() < words * 4 {
        return Err(IdxError::Truncated {
            expected: (words * 4) as u64,
            found: bytes.len() as u64,
        });
    }
    let values: Vec<u32> = bytes[..words * 4]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if values[0] != magic {
        return Err(IdxError::BadMagic {
            kind,
            expected: magic,
            found: values[0],
        });
    }
    Ok(values.into_iter().map(|v| v as usize).collect())
}

/// The `len` data bytes after the header; shorter is truncation, longer is not an idx file.
fn body(bytes: &[u8], start: usize, len: usize) -> Result<&[u8], IdxError> {
    let expected = start.saturating_add(len);
    if bytes.len() < expected {
        return Err(IdxError::Truncated {
            expected: expected as u64,
            found: bytes.len() as u64,
        });
    }
    if bytes.len() > expected {
        return Err(IdxError::Invalid(format!(
            "{} bytes after the {expected} that the header announces",
            bytes.len() - expected
        )));
    }
    Ok(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut bytes: Vec<u8> = std::iter::once(magic)
            .chain(dims.iter().copied())
            .flat_map(u32::to_be_bytes)
            .collect();
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn validation_is_five_thousand_or_a_sixth() {
        assert_eq!(validation_size(60_000), 5_000);
        assert_eq!(validation_size(12_000), 2_000);
        assert_eq!(validation_size(5), 0);
    }

    #[test]
    fn gzipped_and_plain_files_give_the_same_digits() {
        let images = idx(0x803, &[2, 1, 2], &[1, 2, 3, 4]);
        let labels = idx(0x801, &[2], &[7, 3]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &images).unwrap();
        let gzipped = gz.finish().unwrap();
        assert_eq!(unpacked(gzipped).unwrap(), images);
        let set = digit_set(&unpacked(images).unwrap(), &labels).unwrap();
        assert_eq!((set.len(), set.height, set.width), (2, 1, 2));
        assert_eq!(set.image(1), &[3, 3, 3, 4, 4, 4]);
        assert_eq!(set.labels, [7, 3]);
        let (file, error) = digit_set(&idx(0x803, &[1, 1, 2], &[1, 2]), &labels).unwrap_err();
        assert_eq!(file, IdxFile::Labels);
        assert!(
            error.to_string().contains("2 labels for the 1 images"),
            "{error}"
        );
    }
}

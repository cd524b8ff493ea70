//! `masked_train.bin`: the masked training images the `mask` step writes and `finetune` reads.
//!
//! Layout: `MAGIC` (8 bytes) | u64 LE n | n bytes JSON [`MaskedHeader`] | count x height x
//! width x 3 bytes, RGB HWC, in the training set's order (image i is training image i, masked).
//! The header carries the MD5 of the unmasked training images and labels, so that a file made
//! for another training set (other seed, subset or data) is refused, and the MD5 of the pixels.

use std::path::Path;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::error::{Result, TrainError};
use crate::data::ImageSet;

const MAGIC: &[u8; 8] = b"MTMASK01";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskedHeader {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    /// [`fingerprint`] of the training set the images were made from.
    pub train_md5: String,
    /// MD5 of the masked pixel bytes that follow the header.
    pub pixels_md5: String,
    /// ERM epoch (1-based) of the checkpoint whose saliency maps made the masks.
    pub source_epoch: usize,
}

/// MD5 of a set's pixels and labels, hex.
pub fn fingerprint(set: &ImageSet) -> String {
    let mut h = Md5::new();
    h.update((set.width as u64).to_le_bytes());
    h.update((set.height as u64).to_le_bytes());
    h.update(&set.images);
    for l in &set.labels {
        h.update(l.to_le_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the masked pixels of `train` (same order and size) atomically.
pub fn write(
    path: &Path,
    train: &ImageSet,
    masked_pixels: &[u8],
    source_epoch: usize,
) -> Result<()> {
    assert_eq!(
        masked_pixels.len(),
        train.images.len(),
        "one masked image per training image"
    );
    let header = MaskedHeader {
        count: train.len(),
        height: train.height,
        width: train.width,
        channels: 3,
        train_md5: fingerprint(train),
        pixels_md5: hex(&Md5::digest(masked_pixels)),
        source_epoch,
    };
    let json = serde_json::to_vec(&header).expect("the header serialises to JSON");
    let mut out = Vec::with_capacity(16 + json.len() + masked_pixels.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(masked_pixels);
    write_atomic(path, &out)
}

/// Reads and checks the header and returns it with the pixel bytes.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(MaskedHeader, &'a [u8])> {
    let corrupt = |reason: String| TrainError::CorruptMaskedSet {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(corrupt(
            "it does not start with the masked-set signature".into(),
        ));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let json = bytes
        .get(16..16 + len)
        .ok_or_else(|| corrupt("the header runs past the end".into()))?;
    let header: MaskedHeader =
        serde_json::from_slice(json).map_err(|e| corrupt(format!("header: {e}")))?;
    let pixels = &bytes[16 + len..];
    let expected = header.count * header.height * header.width * header.channels;
    if header.channels != 3 || pixels.len() != expected {
        return Err(corrupt(format!(
            "{} pixel bytes, the header announces {expected}",
            pixels.len()
        )));
    }
    if hex(&Md5::digest(pixels)) != header.pixels_md5 {
        return Err(corrupt(
            "the pixel checksum does not match (damaged file)".into(),
        ));
    }
    Ok((header, pixels))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    if !path.exists() {
        return Err(TrainError::Missing {
            path: path.to_path_buf(),
            hint: "run the `mask` step first".into(),
        });
    }
    std::fs::read(path).map_err(TrainError::io("read", path))
}

/// The header of a masked set, checked against its pixels.
pub fn read_header(path: &Path) -> Result<MaskedHeader> {
    Ok(parse(path, &read_bytes(path)?)?.0)
}

/// Reads the masked images made for `train` and returns them as a copy of `train` (labels,
/// groups, names) with the masked pixels.
pub fn read(path: &Path, train: &ImageSet) -> Result<(MaskedHeader, ImageSet)> {
    let bytes = read_bytes(path)?;
    let (header, pixels) = parse(path, &bytes)?;
    let mismatch = |reason: String| TrainError::MaskedSetMismatch {
        path: path.to_path_buf(),
        reason,
    };
    if (header.count, header.height, header.width) != (train.len(), train.height, train.width) {
        return Err(mismatch(format!(
            "{} images of {}x{}, the training set has {} of {}x{}",
            header.count,
            header.width,
            header.height,
            train.len(),
            train.width,
            train.height
        )));
    }
    if header.train_md5 != fingerprint(train) {
        return Err(mismatch("the training images or labels differ".into()));
    }
    let masked = ImageSet {
        images: pixels.to_vec(),
        ..train.clone()
    };
    Ok((header, masked))
}

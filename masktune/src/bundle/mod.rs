//! The model bundle: a trained model's weights and everything needed to use them, as one byte
//! blob that the app fetches as a single static file.
//!
//! Layout (integers little-endian):
//!
//! | bytes        | content                                                |
//! |--------------|--------------------------------------------------------|
//! | 8            | magic `MTBUNDLE`                                       |
//! | 4            | format version: 1, or 2 for weights stored as a difference |
//! | 4            | metadata length `m`                                    |
//! | 8            | weights length `w`                                     |
//! | 4            | version 2 only: CRC-32 of the base bundle's weights     |
//! | `m`          | [`BundleMetadata`] as JSON                             |
//! | `w`          | the weights as a burnpack container (Burn's own format) |
//! | 4            | CRC-32 of everything before it                         |
//!
//! A version 2 bundle stores its weights' bytes as their difference from another bundle's
//! ([`weights_difference`]): a MaskTune bundle against its ERM bundle, a fraction of the download
//! (a tenth for the shipped CelebA pair). It is read together with that bundle ([`Bundle::whole`]).
//!
//! The weights are f32, or f16 or int8 for the convolutions' and linear layers' weights
//! ([`WeightPrecision`]): a half or a quarter of the bytes to download, read back to f32, so every
//! reader of one bundle computes the same. Batch norms stay f32 (their running variances can
//! underflow in f16).
//!
//! Reading never panics on bad bytes: every way a blob can be wrong is a [`BundleError`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use burn::prelude::*;
use burn::store::burn_pack::{Bytes, Reader, Writer};
use burn::store::{HalfPrecisionAdapter, ModuleAdapter, ModuleSnapshot};
use burn::tensor::DType;
use serde::{Deserialize, Serialize};
use thiserror::Error;

mod int8_weights;
mod weights_difference;

use crate::models::preprocess::{InputSize, Normalization};
use crate::models::{AnyModel, Architecture};
use crate::problem_list::{join_first, weight_misfits};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"MTBUNDLE";
/// The newest bundle format version this crate reads. It writes version 1, which older readers
/// read too, unless the weights are stored as a difference (version 2).
pub const BUNDLE_VERSION: u32 = 2;
const WHOLE_WEIGHTS_VERSION: u32 = 1;
const WEIGHTS_DIFFERENCE_VERSION: u32 = 2;
const HEADER_LEN: usize = 8 + 4 + 4 + 8;
/// The base's weights checksum that follows the header in version 2.
const BASE_CHECKSUM_LEN: usize = 4;
const CHECKSUM_LEN: usize = 4;
/// Larger inputs than this are certainly a corrupt setting, not a model.
const MAX_INPUT_SIDE: usize = 4096;

/// How a bundle stores the weights of its convolutions and linear layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightPrecision {
    /// As trained.
    #[default]
    F32,
    /// Rounded to half precision: half the size; the models compute in f32 from these values.
    F16,
    /// Weights as 8-bit integers with an f32 scale per output channel (biases and batch norms
    /// in f32): a quarter of the size; the models compute in f32 from these values.
    Int8,
}

/// Which stage of MaskTune a checkpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointKind {
    /// The model trained normally (empirical risk minimisation).
    #[serde(rename = "erm")]
    Erm,
    /// The ERM model after the one masked fine-tuning epoch.
    #[serde(rename = "masktune")]
    MaskTune,
}

/// How a checkpoint was trained and how well it did; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub epochs: Option<usize>,
    pub seed: Option<u64>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<usize>,
    /// Accuracies in `[0, 1]` by name, e.g. `"val"`, `"test"`, `"biased_test"`, `"worst_group"`.
    #[serde(default)]
    pub accuracies: BTreeMap<String, f64>,
    /// Anything else worth keeping with the model.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The selective-classification threshold that reaches a target coverage on validation data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoverageThreshold {
    pub target_coverage: f64,
    pub threshold: f64,
}

/// The index and value of the threshold in `thresholds` whose target coverage is closest to
/// `coverage` (the first of equally close ones); `None` when there are none.
pub fn closest_threshold(
    thresholds: &[CoverageThreshold],
    coverage: f64,
) -> Option<(usize, CoverageThreshold)> {
    thresholds.iter().copied().enumerate().min_by(|a, b| {
        (a.1.target_coverage - coverage)
            .abs()
            .total_cmp(&(b.1.target_coverage - coverage).abs())
    })
}

/// How the ERM + MaskTune pair did on a test set when allowed to abstain, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectiveSummary {
    pub test_set: String,
    /// The paper's table: thresholds from validation, coverage and risk reached on `test_set`.
    pub table: crate::selective::SelectiveTable,
    /// `[coverage, selective risk]` points of the test risk-coverage curve, thinned for display.
    pub curve: Vec<[f64; 2]>,
    pub aurc: f64,
    pub e_aurc: f64,
}

/// Everything the app and trainer need besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMetadata {
    pub architecture: Architecture,
    /// Dataset name, e.g. `"cifar10"` (see [`DatasetKind::name`](crate::models::preprocess::DatasetKind::name)).
    pub dataset: String,
    /// One name per model output, in output order.
    pub class_names: Vec<String>,
    pub input_size: InputSize,
    pub normalization: Normalization,
    pub checkpoint: CheckpointKind,
    #[serde(default)]
    pub training: Option<TrainingSummary>,
    #[serde(default)]
    pub selective_thresholds: Vec<CoverageThreshold>,
    /// One per test set the trainer evaluated.
    #[serde(default)]
    pub selective_summaries: Vec<SelectiveSummary>,
}

impl BundleMetadata {
    /// Checks that the fields agree with each other and describe a buildable model.
    pub(crate) fn check(&self) -> Result<(), BundleError> {
        let inconsistent = |msg: String| Err(BundleError::InconsistentMetadata(msg));
        if let Err(e) = self.architecture.validate() {
            return inconsistent(e.to_string());
        }
        let classes = self.architecture.num_classes();
        if self.class_names.len() != classes {
            return inconsistent(format!(
                "{} class names for a model with {classes} outputs",
                self.class_names.len()
            ));
        }
        let InputSize { height, width } = self.input_size;
        if !(1..=MAX_INPUT_SIDE).contains(&height) || !(1..=MAX_INPUT_SIDE).contains(&width) {
            return inconsistent(format!(
                "input size {height}x{width} is not within 1 to {MAX_INPUT_SIDE} pixels a side"
            ));
        }
        if !self.normalization.is_valid() {
            return inconsistent(format!(
                "normalisation {:?} has a non-finite mean or a std that is not positive",
                self.normalization
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum BundleError {
    #[error(
        "not a MaskTune model bundle (it does not start with \"MTBUNDLE\"): check the URL or file name"
    )]
    NotABundle,
    #[error(
        "bundle format version {found} is not supported (this build reads versions 1 to {supported}): \
         re-export the bundle with a matching trainer, or update the app"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error(
        "this bundle stores its weights as their difference from another bundle's (its ERM \
         bundle's, whose weights have checksum {base_checksum:08x}): read it as a pair with that \
         bundle, or write it whole with `trainer-native weights-difference --restore`"
    )]
    NeedsBase { base_checksum: u32 },
    #[error(
        "this bundle stores its weights as their difference from a bundle whose weights have \
         checksum {expected:08x}, but the one given with it has {found:08x}: give the ERM bundle \
         it was written against (the same run's, in the same weight precision)"
    )]
    WrongBase { expected: u32, found: u32 },
    #[error("cannot store the weights as a difference: {0}")]
    CannotStoreDifference(String),
    #[error(
        "bundle is truncated: {found} of {expected} bytes: the download or copy was cut short, fetch it again"
    )]
    Truncated { expected: usize, found: usize },
    #[error(
        "bundle has {found} bytes where {expected} were expected: something was appended to it, fetch it again"
    )]
    TrailingBytes { expected: usize, found: usize },
    #[error(
        "bundle is corrupt (checksum {computed:08x}, expected {stored:08x}): fetch or export it again"
    )]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("bundle metadata is not valid JSON for this format: {0}; re-export the bundle")]
    InvalidMetadata(String),
    #[error("bundle metadata is inconsistent: {0}; re-export the bundle")]
    InconsistentMetadata(String),
    #[error("bundle weights cannot be read: {0}; re-export the bundle")]
    InvalidWeights(String),
    #[error(
        "bundle weights do not match the architecture in its metadata: {0}; the weights were \
         saved from a different model, re-export the bundle from the trained model"
    )]
    WeightsMismatch(String),
}

/// Writing and reading bundles.
pub struct Bundle;

impl Bundle {
    /// Serialises `model` and `meta` into one bundle. `meta.architecture` must be the one `model`
    /// was built from. Fails (instead of writing a bundle that cannot be read back) if `meta`
    /// is inconsistent or holds numbers JSON cannot carry (NaN, infinities), or if the weights
    /// cannot be read from the device.
    pub fn to_bytes(
        model: &AnyModel,
        meta: &BundleMetadata,
        precision: WeightPrecision,
    ) -> Result<Vec<u8>, BundleError> {
        let tensors = match precision {
            WeightPrecision::F32 => model.collect(None, None, false),
            WeightPrecision::F16 => model.collect(None, Some(half_precision()), false),
            WeightPrecision::Int8 => int8_weights::quantize(model.collect(None, None, false))?,
        };
        // A parameter's id is drawn for each model built and means nothing to a bundle's
        // readers: without it the same weights make the same bytes.
        let tensors = tensors
            .into_iter()
            .map(|mut tensor| {
                tensor.param_id = None;
                tensor
            })
            .collect();
        let weights = Writer::new(tensors)
            .into_bytes()
            .map_err(|e| BundleError::InvalidWeights(e.to_string()))?;
        frame(meta, &weights, StoredWeights::Whole)
    }

    /// The bundle `bytes` with `meta` in place of its metadata and the weights' bytes as they
    /// are, stored as they were (e.g. thresholds chosen again for an int8 pair, without
    /// requantising it). `meta` must name the same architecture.
    pub fn with_metadata(bytes: &[u8], meta: &BundleMetadata) -> Result<Vec<u8>, BundleError> {
        let (old, sections) = read_metadata(bytes)?;
        if old.architecture != meta.architecture {
            return Err(BundleError::InconsistentMetadata(format!(
                "the new metadata names {:?}, the weights are a {:?}",
                meta.architecture, old.architecture
            )));
        }
        frame(meta, sections.weights, sections.stored)
    }

    /// Reads a bundle: checks it, builds the architecture its metadata names on `device`, and
    /// loads the weights into it. The model comes in evaluation mode (batch norms use their
    /// running statistics even when a saliency backward pass runs the head on autodiff). A
    /// bundle whose weights are stored as a difference is read through [`Bundle::whole`] first.
    pub fn from_bytes(
        bytes: &[u8],
        device: &Device,
    ) -> Result<(AnyModel, BundleMetadata), BundleError> {
        let (meta, sections) = read_metadata(bytes)?;
        if let StoredWeights::DifferenceFrom { base_checksum } = sections.stored {
            return Err(BundleError::NeedsBase { base_checksum });
        }
        let tensors = Reader::from_bytes(Bytes::from_bytes_vec(sections.weights.to_vec()))
            .and_then(Reader::into_tensors)
            .map_err(|e| BundleError::InvalidWeights(e.to_string()))?;
        let tensors = int8_weights::dequantize(tensors)?;
        // f16 weights are read back to f32 (the adapter converts each f16 tensor of the layers
        // it covers, the ones `to_bytes` wrote in f16).
        let adapter = tensors
            .iter()
            .any(|tensor| tensor.dtype == DType::F16)
            .then(half_precision);
        let mut model = meta.architecture.init(device);
        let result = model.apply(tensors, None, adapter, false);
        let problems = weight_misfits(&result);
        if !problems.is_empty() {
            return Err(BundleError::WeightsMismatch(join_first(problems, 5)));
        }
        Ok((model.valid(), meta))
    }

    /// A bundle's metadata, after checking its framing and checksum, without building the model.
    pub fn metadata(bytes: &[u8]) -> Result<BundleMetadata, BundleError> {
        read_metadata(bytes).map(|(meta, _)| meta)
    }

    /// The bundle `bytes` with its weights stored as their difference from the weights of the
    /// bundle `base` (same architecture and weight precision: a MaskTune bundle against its ERM
    /// bundle). [`Bundle::whole`] with the same base gives `bytes` back, byte for byte.
    pub fn as_difference(bytes: &[u8], base: &[u8]) -> Result<Vec<u8>, BundleError> {
        let (_, own) = read_metadata(bytes)?;
        let base = split(base)?;
        let cannot = |why: &str| Err(BundleError::CannotStoreDifference(why.to_string()));
        if own.stored != StoredWeights::Whole {
            return cannot("the bundle is stored as a difference already");
        }
        if base.stored != StoredWeights::Whole {
            return cannot("the base bundle is itself stored as a difference: give it whole");
        }
        let difference = weights_difference::subtract(own.weights, base.weights)?;
        let base_checksum = crc32fast::hash(base.weights);
        // The metadata's bytes as they are: read and written again, a float could change
        // in its last digit.
        assemble(
            own.json,
            &difference,
            StoredWeights::DifferenceFrom { base_checksum },
        )
    }

    /// The bundle `bytes` with whole weights: restored from their difference against `base`'s
    /// when stored so (`base` must be the bundle they were stored against), as it is otherwise.
    pub fn whole<'a>(bytes: &'a [u8], base: &[u8]) -> Result<Cow<'a, [u8]>, BundleError> {
        let (_, own) = read_metadata(bytes)?;
        let StoredWeights::DifferenceFrom { base_checksum } = own.stored else {
            return Ok(Cow::Borrowed(bytes));
        };
        let base = split(base)?;
        let found = crc32fast::hash(base.weights);
        let wrong_base = BundleError::WrongBase {
            expected: base_checksum,
            found,
        };
        if base.stored != StoredWeights::Whole || found != base_checksum {
            return Err(wrong_base);
        }
        let weights = weights_difference::add(own.weights, base.weights).ok_or(wrong_base)?;
        assemble(own.json, &weights, StoredWeights::Whole).map(Cow::Owned)
    }
}

/// How a bundle holds its weights' bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredWeights {
    Whole,
    /// As their difference from the weights of the bundle whose weights have this CRC-32.
    DifferenceFrom {
        base_checksum: u32,
    },
}

/// The parts of a bundle whose framing and checksum are checked.
struct Sections<'a> {
    json: &'a [u8],
    weights: &'a [u8],
    stored: StoredWeights,
}

/// Frames `meta` (checked, as JSON) and the burnpack `weights` as a bundle with its checksum.
fn frame(
    meta: &BundleMetadata,
    weights: &[u8],
    stored: StoredWeights,
) -> Result<Vec<u8>, BundleError> {
    meta.check()?;
    let json = serde_json::to_vec(meta).map_err(|e| BundleError::InvalidMetadata(e.to_string()))?;
    // serde_json writes NaN as `null`, which would not read back as a number.
    serde_json::from_slice::<BundleMetadata>(&json)
        .map_err(|e| BundleError::InvalidMetadata(format!("{e} (is a number NaN or infinite?)")))?;
    assemble(&json, weights, stored)
}

/// The bundle of the metadata `json` (checked already) and `weights`, with its checksum.
fn assemble(json: &[u8], weights: &[u8], stored: StoredWeights) -> Result<Vec<u8>, BundleError> {
    let metadata_len = u32::try_from(json.len()).map_err(|_| {
        BundleError::InvalidMetadata(format!("{} bytes of metadata is too large", json.len()))
    })?;
    let mut out = Vec::with_capacity(
        HEADER_LEN + BASE_CHECKSUM_LEN + json.len() + weights.len() + CHECKSUM_LEN,
    );
    out.extend_from_slice(MAGIC);
    let version = match stored {
        StoredWeights::Whole => WHOLE_WEIGHTS_VERSION,
        StoredWeights::DifferenceFrom { .. } => WEIGHTS_DIFFERENCE_VERSION,
    };
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&metadata_len.to_le_bytes());
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    if let StoredWeights::DifferenceFrom { base_checksum } = stored {
        out.extend_from_slice(&base_checksum.to_le_bytes());
    }
    out.extend_from_slice(json);
    out.extend_from_slice(weights);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The checked metadata of a bundle, and its other parts.
fn read_metadata(bytes: &[u8]) -> Result<(BundleMetadata, Sections<'_>), BundleError> {
    let sections = split(bytes)?;
    let meta: BundleMetadata = serde_json::from_slice(sections.json)
        .map_err(|e| BundleError::InvalidMetadata(e.to_string()))?;
    meta.check()?;
    Ok((meta, sections))
}

/// Converts the convolutions' and linear layers' weights between f32 and f16, both ways.
fn half_precision() -> Box<dyn ModuleAdapter> {
    Box::new(HalfPrecisionAdapter::new())
}

/// Checks the framing (magic, version, lengths, checksum) and returns the metadata JSON, the
/// weights and how they are stored.
fn split(bytes: &[u8]) -> Result<Sections<'_>, BundleError> {
    let found = bytes.len();
    let magic_len = found.min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(BundleError::NotABundle);
    }
    if found < HEADER_LEN {
        return Err(BundleError::Truncated {
            expected: HEADER_LEN,
            found,
        });
    }
    let version = u32::from_le_bytes(le_array(&bytes[8..12]));
    let header_len = match version {
        WHOLE_WEIGHTS_VERSION => HEADER_LEN,
        WEIGHTS_DIFFERENCE_VERSION => HEADER_LEN + BASE_CHECKSUM_LEN,
        _ => {
            return Err(BundleError::UnsupportedVersion {
                found: version,
                supported: BUNDLE_VERSION,
            });
        }
    };
    let metadata_len = u32::from_le_bytes(le_array(&bytes[12..16])) as usize;
    let weights_len = u64::from_le_bytes(le_array(&bytes[16..24]));
    // A corrupt length can be anything: compute the total without overflowing.
    let expected = usize::try_from(weights_len)
        .ok()
        .and_then(|w| {
            (header_len + CHECKSUM_LEN)
                .checked_add(metadata_len)?
                .checked_add(w)
        })
        .unwrap_or(usize::MAX);
    if found < expected {
        return Err(BundleError::Truncated { expected, found });
    }
    let body_end = expected - CHECKSUM_LEN;
    let stored = u32::from_le_bytes(le_array(&bytes[body_end..expected]));
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(BundleError::ChecksumMismatch { stored, computed });
    }
    if found > expected {
        return Err(BundleError::TrailingBytes { expected, found });
    }
    let stored = if version == WEIGHTS_DIFFERENCE_VERSION {
        StoredWeights::DifferenceFrom {
            base_checksum: u32::from_le_bytes(le_array(&bytes[HEADER_LEN..header_len])),
        }
    } else {
        StoredWeights::Whole
    };
    let metadata_end = header_len + metadata_len;
    Ok(Sections {
        json: &bytes[header_len..metadata_end],
        weights: &bytes[metadata_end..body_end],
        stored,
    })
}

/// The `N` bytes of a slice already known to be `N` long.
fn le_array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(slice);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_coverage_wins_and_ties_go_to_the_first() {
        let at = |target_coverage| CoverageThreshold {
            target_coverage,
            threshold: target_coverage / 2.0,
        };
        let thresholds = [at(0.5), at(0.75), at(1.0)];
        assert_eq!(closest_threshold(&thresholds, 0.7), Some((1, at(0.75))));
        // Exactly between 0.75 and 1.0 (all three are exact in binary).
        assert_eq!(closest_threshold(&thresholds, 0.875), Some((1, at(0.75))));
        assert_eq!(closest_threshold(&thresholds, 2.0), Some((2, at(1.0))));
        assert_eq!(closest_threshold(&[], 0.9), None);
    }
}

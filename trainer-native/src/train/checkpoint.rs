//! Checkpoints: model weights, optimizer state, RNG state, progress and the run's config in one
//! file, written atomically, with a checksum so that a truncated or damaged file is refused
//! with a clear message instead of training on garbage.
//!
//! Layout (integers little-endian):
//! `MAGIC` | u64 n | n bytes JSON [`CheckpointHeader`] | u64 m | m bytes model (Burnpack) |
//! u64 k | k bytes optimizer state (Burnpack) | 16 bytes MD5 of everything before. The model and
//! optimizer bytes are `masktune::training::checkpoint`'s, which the page's Lab keeps too.

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use masktune::models::AnyModel;
use masktune::training::checkpoint::{self, CheckpointError};
use masktune::training::rng::RngState;
use md5::{Digest, Md5};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::config::RunConfig;
use super::epoch::EpochStats;
use super::error::{Result, TrainError};

const MAGIC: &[u8; 8] = b"MTCKPT01";
/// The format version this build writes and reads.
pub const FORMAT: u32 = 1;

/// Which model a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Erm,
    MaskTune,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub format: u32,
    pub stage: Stage,
    pub config: RunConfig,
    /// ERM epochs completed (for a MaskTune checkpoint: those of the ERM model it started from).
    pub epochs_done: usize,
    /// Learning rate of the last epoch trained (fine-tuning continues with it).
    pub lr: f64,
    /// State of the training RNG after the last epoch.
    pub rng: RngState,
    /// Validation accuracy of this model.
    pub val_accuracy: Option<f64>,
    /// Best validation accuracy so far and its epoch (1-based), for keeping the best checkpoint.
    pub best: Option<(usize, f64)>,
    /// One entry per epoch trained, ERM first (and the fine-tuning epoch for MaskTune).
    pub history: Vec<EpochStats>,
}

/// A checkpoint loaded onto a device.
pub struct Loaded {
    pub header: CheckpointHeader,
    pub model: AnyModel,
    pub optimizer: ModuleOptimizer,
}

impl Loaded {
    /// The training RNG where the checkpoint read from `path` left it, so that training goes on
    /// with the same random stream.
    pub fn restore_rng(&self, path: &Path) -> Result<ChaCha8Rng> {
        self.header
            .rng
            .restore()
            .map_err(|reason| TrainError::CorruptCheckpoint {
                path: path.to_path_buf(),
                reason,
            })
    }
}

pub fn save(
    path: &Path,
    header: &CheckpointHeader,
    model: &AnyModel,
    optimizer: &ModuleOptimizer,
) -> Result<()> {
    let header_json = serde_json::to_vec(header).expect("checkpoint headers serialise to JSON");
    let failed = |e| TrainError::compute("cannot write a checkpoint", e);
    let model_bytes = checkpoint::model_bytes(model).map_err(failed)?;
    let optim_bytes = checkpoint::optimizer_bytes(optimizer).map_err(failed)?;
    let mut out =
        Vec::with_capacity(header_json.len() + model_bytes.len() + optim_bytes.len() + 64);
    out.extend_from_slice(MAGIC);
    for section in [&header_json[..], &model_bytes[..], &optim_bytes[..]] {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    let digest = Md5::digest(&out);
    out.extend_from_slice(&digest);
    write_atomic(path, &out)
}

/// Reads just the header (to inspect or compare a checkpoint without building the model).
pub fn read_header(path: &Path) -> Result<CheckpointHeader> {
    let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
    Ok(split(path, &bytes)?.0)
}

/// Loads a checkpoint of `stage` onto `device`; with `expected`, refuses one whose run config
/// differs (see [`RunConfig::differences`]).
pub fn load(
    path: &Path,
    stage: Stage,
    expected: Option<&RunConfig>,
    device: &Device,
) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
    let (header, model_bytes, optim_bytes) = split(path, &bytes)?;
    let corrupt = |reason: String| TrainError::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let mismatch = |reason: String| TrainError::CheckpointMismatch {
        path: path.to_path_buf(),
        reason,
    };
    if header.stage != stage {
        return Err(mismatch(format!(
            "it holds the {:?} model, {stage:?} was expected",
            header.stage
        )));
    }
    if let Some(expected) = expected {
        let differences = header.config.differences(expected);
        if !differences.is_empty() {
            return Err(mismatch(differences.join("; ")));
        }
    }
    let from = |error| match error {
        CheckpointError::Corrupt(reason) => corrupt(reason),
        CheckpointError::Mismatch(reason) => mismatch(reason),
    };
    let model =
        checkpoint::read_model(&header.config.architecture, model_bytes, device).map_err(from)?;
    let optimizer =
        checkpoint::read_optimizer(&header.config.optimizer, optim_bytes).map_err(from)?;
    Ok(Loaded {
        header,
        model,
        optimizer,
    })
}

/// Checks magic and checksum and cuts the file into header, model and optimizer bytes.
fn split<'a>(path: &Path, bytes: &'a [u8]) -> Result<(CheckpointHeader, &'a [u8], &'a [u8])> {
    let corrupt = |reason: &str| TrainError::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    if bytes.len() < MAGIC.len() + 16 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt(
            "it does not start with the checkpoint signature (not a trainer-native checkpoint)",
        ));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 16);
    if Md5::digest(body).as_slice() != digest {
        return Err(corrupt(
            "the checksum does not match (the file is truncated or damaged); delete it or resume from another checkpoint",
        ));
    }
    let mut rest = &body[MAGIC.len()..];
    let mut sections = [&[][..]; 3];
    for section in &mut sections {
        let len = rest
            .get(..8)
            .map(|l| u64::from_le_bytes(l.try_into().expect("8 bytes")) as usize);
        let len = len
            .filter(|&l| l <= rest.len() - 8)
            .ok_or_else(|| corrupt("a section length runs past the end"))?;
        *section = &rest[8..8 + len];
        rest = &rest[8 + len..];
    }
    let header: CheckpointHeader =
        serde_json::from_slice(sections[0]).map_err(|e| TrainError::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason: format!("header: {e}"),
        })?;
    if header.format != FORMAT {
        return Err(corrupt(
            "it was written by another version of trainer-native",
        ));
    }
    Ok((header, sections[1], sections[2]))
}

//! The training side of the trainer: the whole MaskTune pipeline (DESIGN.md, "The method").
//!
//! `train` (ERM, best + last checkpoints, resumable; or `import` of a PyTorch model) → `mask` (XGradCAM of the best model,
//! mean + 2 std threshold, masked copies of the training images) → `finetune` (one epoch on the
//! masked images from the last checkpoint) → `evaluate` (accuracy, groups, selective
//! classification) → `export` (bundles for the app); `summary` puts repeats (seeds) of a run side by side. Each step reads and writes files in the
//! run folder ([`run_dir::RunDir`]), so steps can be rerun or resumed separately.

pub mod atomic;
pub mod checkpoint;
pub mod config;
pub mod epoch;
pub mod erm;
pub mod error;
pub mod evaluate;
pub mod examples_grid;
pub mod experiment;
pub mod export;
pub mod finetune;
pub mod import;
pub mod mask;
pub mod masked_set;
pub mod report;
pub mod run_dir;
pub mod summary;

pub use error::{Result, TrainError};

//! The files of one run, all under `runs/<name>/`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The run's [`RunConfig`](super::config::RunConfig), written when training starts.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// ERM checkpoint after the latest epoch (what `--resume` and `finetune` start from).
    pub fn last(&self) -> PathBuf {
        self.root.join("checkpoints").join("erm_last.ckpt")
    }

    /// ERM checkpoint with the best validation accuracy (what `mask` explains).
    pub fn best(&self) -> PathBuf {
        self.root.join("checkpoints").join("erm_best.ckpt")
    }

    /// The fine-tuned (MaskTune) model.
    pub fn masktune(&self) -> PathBuf {
        self.root.join("checkpoints").join("masktune.ckpt")
    }

    /// The masked training images, see [`masked_set`](super::masked_set).
    pub fn masked_train(&self) -> PathBuf {
        self.root.join("masked_train.bin")
    }

    /// Example originals, heatmaps and masked images.
    pub fn mask_examples(&self) -> PathBuf {
        self.root.join("mask_examples.png")
    }

    pub fn report(&self) -> PathBuf {
        self.root.join("report.json")
    }

    pub fn risk_coverage(&self) -> PathBuf {
        self.root.join("risk_coverage.csv")
    }

    pub fn bundle(&self, name: &str) -> PathBuf {
        self.root.join("bundles").join(format!("{name}.bundle"))
    }

    /// The model as a PyTorch state dict (`export --format safetensors`).
    pub fn safetensors(&self, name: &str) -> PathBuf {
        self.root
            .join("bundles")
            .join(format!("{name}.safetensors"))
    }
}

//! Everything that defines a training run, fixed when it starts: saved as `config.json` in the
//! run folder and inside every checkpoint, so later steps (`mask`, `finetune`, `evaluate`,
//! `export`) rebuild the same data and model, and `--resume` refuses a checkpoint of another run.

use std::path::PathBuf;

use masktune::models::Architecture;
use masktune::models::preprocess::Normalization;
use masktune::training::augment::Augmentation;
use masktune::training::optimizer::OptimizerSettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::experiment::Experiment;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub experiment: Experiment,
    /// Where the data was read from (may change between runs: not compared on resume).
    pub data_dir: PathBuf,
    /// Seeds the model initialisation, data order and augmentation, and the dataset's own
    /// random choices (validation holdout, spurious squares, subsets).
    pub seed: u64,
    /// At most this many images per split.
    pub subset: Option<usize>,
    /// Side of the square images.
    pub image_size: usize,
    pub architecture: Architecture,
    pub normalization: Normalization,
    pub augmentation: Augmentation,
    pub optimizer: OptimizerSettings,
    pub epochs: usize,
    pub batch_size: usize,
    /// The PyTorch weights the model started from (`train --init-from`, `import`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

impl RunConfig {
    /// The settings in which `self` (a checkpoint's) and `wanted` (this invocation's) differ,
    /// as `name: checkpoint vs wanted`. The data folder may move and the epoch count may grow
    /// (to train an interrupted or finished run further), and the weights the model started
    /// from matter only at the start, so none of them counts.
    pub fn differences(&self, wanted: &RunConfig) -> Vec<String> {
        let (Value::Object(a), Value::Object(b)) = (to_value(self), to_value(wanted)) else {
            unreachable!("RunConfig serialises to a JSON object");
        };
        a.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "data_dir" | "epochs" | "init_from"))
            .filter(|(k, v)| b.get(k.as_str()) != Some(v))
            .map(|(k, v)| {
                format!(
                    "{k}: {v} in the checkpoint vs {} now",
                    b.get(k.as_str()).unwrap_or(&Value::Null)
                )
            })
            .collect()
    }
}

fn to_value(config: &RunConfig) -> Value {
    serde_json::to_value(config).expect("RunConfig serialises to JSON")
}

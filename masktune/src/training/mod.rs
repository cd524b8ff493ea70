//! Training, shared by the trainer and the page's Lab: the optimizer settings and their
//! learning-rate schedule, the authors' recipes, the augmentation, the seeded training RNG and
//! the model's and optimizer's state as bytes (what checkpoints hold), the epoch and prediction
//! loops, and the memory a training step takes.

pub mod augment;
pub mod checkpoint;
pub mod epoch;
pub mod masking_pass;
pub mod memory;
pub mod optimizer;
pub mod recipe;
pub mod rng;
mod snapshot;

pub use augment::Augmentation;
pub use epoch::{
    BatchDone, Batching, EpochStats, Trained, TrainingError, accuracy, predict, train_epoch,
};
pub use optimizer::{OptimizerKind, OptimizerSettings};
pub use recipe::{Recipe, authors_sgd};
pub use rng::{RngState, training_rng};
pub use snapshot::snapshot;

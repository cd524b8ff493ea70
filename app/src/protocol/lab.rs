//! The Lab's part of the protocol: the page asks for a run of the method on spurious MNIST or on
//! the user's own folder of images, the worker reports every step of it as it happens.

use masktune::data::image_folder;
use masktune::evaluation::EvaluationReport;
use masktune::models::preprocess::{DatasetKind, Normalization};
use masktune::training::masking_pass::GroupMasking;
use masktune::training::{Augmentation, OptimizerSettings, Recipe};
use serde::{Deserialize, Serialize};

use super::{BackendKind, Pictures};

/// What the user can change about a Lab run; the rest is the trainer's recipe for the data
/// ([`LabTask::recipe`]), so that `trainer-native pipeline` with the same settings trains the
/// same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabSettings {
    pub epochs: usize,
    pub lr: f64,
    pub seed: u64,
    /// At most this many images per split (the trainer's `--subset`).
    pub images: usize,
    /// Side of the square images a folder is read at (the trainer's `--image-size`); spurious
    /// MNIST's are 28 px.
    pub image_size: usize,
}

impl Default for LabSettings {
    /// The trainer's recipes, shortened to fit a minute on a laptop's CPU: one epoch is enough
    /// for ERM to learn spurious MNIST's shortcut; folders are read at the trainer's 64 px.
    fn default() -> Self {
        LabSettings {
            epochs: 1,
            lr: Recipe::mnist(2).optimizer.lr,
            seed: 0,
            images: Self::MAX_IMAGES,
            image_size: 64,
        }
    }
}

impl LabSettings {
    /// The most images per split the Lab's data holds (its training split).
    pub const MAX_IMAGES: usize = 10_000;
    /// Sides a folder can be read at: the folder recipe's VGG halves its maps three times.
    pub const IMAGE_SIZES: std::ops::RangeInclusive<usize> = 16..=128;

    /// Why these settings cannot run `task`, in words for the user.
    pub fn check(&self, task: &LabTask) -> Result<(), String> {
        if !(1..=50).contains(&self.epochs) {
            return Err(format!("{} epochs: choose 1 to 50", self.epochs));
        }
        if !(100..=Self::MAX_IMAGES).contains(&self.images) {
            return Err(format!(
                "{} images: choose 100 to {}",
                self.images,
                Self::MAX_IMAGES
            ));
        }
        if let LabTask::Folder { .. } = task
            && (!Self::IMAGE_SIZES.contains(&self.image_size) || !self.image_size.is_multiple_of(8))
        {
            return Err(format!(
                "images of {} px: choose a multiple of 8 from {} to {}",
                self.image_size,
                Self::IMAGE_SIZES.start(),
                Self::IMAGE_SIZES.end()
            ));
        }
        task.recipe(self).optimizer.validate()
    }
}

/// What a Lab run trains, as far as the recipe and the bundles depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabTask {
    /// `trainer-native pipeline --experiment spurious-mnist`.
    SpuriousMnist,
    /// `trainer-native pipeline --experiment folder`: `classes` classes.
    Folder { classes: usize },
}

impl LabTask {
    /// The trainer's recipe for the task, with the user's epochs and learning rate.
    pub fn recipe(&self, settings: &LabSettings) -> Recipe {
        let mut recipe = match *self {
            LabTask::SpuriousMnist => Recipe::mnist(2),
            LabTask::Folder { classes } => Recipe::image_folder(classes),
        };
        recipe.epochs = settings.epochs;
        recipe.optimizer = OptimizerSettings {
            lr: settings.lr,
            ..recipe.optimizer
        };
        recipe
    }

    /// Side of the task's square images.
    pub fn image_size(&self, settings: &LabSettings) -> usize {
        match self {
            LabTask::SpuriousMnist => 28,
            LabTask::Folder { .. } => settings.image_size,
        }
    }

    /// The trainer's preprocessing for the task: MNIST's statistics, ImageNet's for photos.
    pub fn normalization(&self) -> Normalization {
        match self {
            LabTask::SpuriousMnist => DatasetKind::SpuriousMnist.normalization(),
            LabTask::Folder { .. } => image_folder::NORMALIZATION,
        }
    }

    /// The trainer's augmentation: none for digits, crop and flip for photos.
    pub fn augmentation(&self, settings: &LabSettings) -> Augmentation {
        match self {
            LabTask::SpuriousMnist => Augmentation::None,
            LabTask::Folder { .. } => Augmentation::crop_flip(settings.image_size),
        }
    }

    /// The dataset's name in the bundles, as the trainer writes it.
    pub fn dataset_name(&self) -> &'static str {
        match self {
            LabTask::SpuriousMnist => DatasetKind::SpuriousMnist.name(),
            LabTask::Folder { .. } => image_folder::DATASET_NAME,
        }
    }
}

/// What a Lab run trains on.
#[derive(Debug, Serialize, Deserialize)]
pub enum LabData {
    /// Spurious MNIST, painted on the Lab's MNIST subset (shipped with the page).
    SpuriousMnist(LabDataUrls),
    /// The user's folder of class subfolders, placed by `masktune::data::image_folder`.
    Folder(Vec<LabFile>),
}

/// A file of the user's folder: its path inside the folder (`/` between names) and its content.
#[derive(Debug, Serialize, Deserialize)]
pub struct LabFile {
    pub path: String,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub blob: web_sys::Blob,
}

/// The Lab's data: MNIST's four idx files, shipped with the page (scripts/make_lab_data.py
/// writes them), as the absolute URLs the page names for the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabDataUrls {
    pub train_images: String,
    pub train_labels: String,
    pub test_images: String,
    pub test_labels: String,
}

impl LabDataUrls {
    /// The four files in the page's folder `folder` (ending in `/`), each URL made by `url`.
    pub fn in_folder(
        folder: &str,
        url: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Self, String> {
        let file = |name: &str| url(&format!("{folder}{name}"));
        Ok(LabDataUrls {
            train_images: file("train-images-idx3-ubyte.gz")?,
            train_labels: file("train-labels-idx1-ubyte.gz")?,
            test_images: file("t10k-images-idx3-ubyte.gz")?,
            test_labels: file("t10k-labels-idx1-ubyte.gz")?,
        })
    }

    /// The four URLs, training images and labels first, then the test split's.
    pub fn all(&self) -> [&str; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// The steps of a Lab run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabStep {
    /// Downloading the Lab's MNIST subset (bytes).
    Data,
    /// Decoding the user's folder (images).
    Reading,
    /// ERM training, epoch (1-based) of the run's epochs.
    Erm { epoch: usize },
    /// Accuracy of the model on the validation and test sets after an epoch.
    Measuring,
    /// XGradCAM of the best ERM model and the masks, over the training set.
    Masking,
    /// The one epoch of fine-tuning on the masked images.
    Finetune,
}

/// Which of the Lab's two models a measurement is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabModel {
    Erm,
    MaskTune,
}

/// One training image through the masking: as trained on, the ERM model's XGradCAM map, and
/// masked.
#[derive(Debug, Serialize, Deserialize)]
pub struct MaskExample {
    pub group: String,
    pub pictures: Pictures,
    pub masked_fraction: f64,
}

/// One thing that happened in a Lab run.
#[derive(Debug, Serialize, Deserialize)]
pub enum LabEvent {
    /// Work within a step: images (bytes while downloading) done of the step's total, and
    /// while training the last batch's loss and the epoch's accuracy so far.
    Progress {
        step: LabStep,
        done: u64,
        of: u64,
        batch_loss: Option<f64>,
        running_accuracy: Option<f64>,
    },
    /// What the Lab trains on (the analysis's backend, or the CPU where that is a software
    /// WebGPU adapter), and why.
    Training {
        kind: BackendKind,
        /// As in [`BackendReport::label`](super::BackendReport).
        label: String,
        detail: String,
    },
    /// The data is ready: images per split (each test set by the name the trainer's report
    /// gives it), and the groups of the training set (its classes where it has no groups), with
    /// counts.
    DataReady {
        train: usize,
        val: usize,
        tests: Vec<(String, usize)>,
        train_groups: Vec<(String, usize)>,
    },
    /// An ERM epoch, or the fine-tuning epoch, finished.
    Epoch(EpochPoint),
    /// The masking pass finished: examples of each group, and how much it hid per group.
    Masked {
        /// ERM epoch (1-based) of the best model, which made the maps.
        source_epoch: usize,
        examples: Vec<MaskExample>,
        groups: Vec<GroupMasking>,
    },
    /// The evaluation of the best and last ERM model and the MaskTune model, as the trainer's
    /// `evaluate` reports it (accuracy per group with counts, the selective table).
    Evaluated(Box<EvaluationReport>),
    /// The run's model pair as bundle files.
    Bundles(Box<LabBundles>),
    Stopped,
    Failed(String),
    /// Every step is done; the worker's memory at the end, which runs must not keep raising.
    Finished {
        worker_memory: WorkerMemory,
    },
}

/// The compute worker's memory in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerMemory {
    /// Bytes the allocator has handed out and not got back: what a leak raises.
    pub allocated_bytes: u64,
    /// Size of the wasm linear memory, which never shrinks: the high-water mark plus what the
    /// allocator's free lists could not reuse.
    pub linear_memory_bytes: u64,
}

/// A finished run's ERM (best) and MaskTune models, as `.mtb` bundles that `trainer-native
/// predict` reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabBundles {
    /// The run's seed, for the file names.
    pub seed: u64,
    #[serde(with = "serde_bytes")]
    pub erm: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub masktune: Vec<u8>,
}

/// The model after an epoch: its training numbers and its accuracy on the held-out sets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub model: LabModel,
    /// 1-based; the fine-tuning epoch is numbered after the ERM epochs.
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub train_accuracy: Option<f64>,
    pub val_accuracy: f64,
    /// Accuracy on each test set, by name: spurious MNIST's `test_original` (no squares) and
    /// `test_biased` (the square on every 5-9 and on no 0-4), a folder's `test`.
    pub tests: Vec<(String, f64)>,
    /// Milliseconds the epoch's training took.
    pub train_ms: Option<f64>,
}

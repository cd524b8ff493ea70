//! The Lab's part of the protocol: the page asks for a run of the method on spurious MNIST or on
//! the user's own folder of images, the worker reports every step of it as it happens.

use masktune::bundle::BundleMetadata;
use masktune::data::{image_folder, spurious_mnist};
use masktune::evaluation::EvaluationReport;
use masktune::model_file;
use masktune::models::preprocess::{DatasetKind, Normalization};
use masktune::training::masking_pass::GroupMasking;
use masktune::training::{Augmentation, OptimizerSettings, Recipe, RngState};
use serde::{Deserialize, Serialize};

use super::{BackendKind, Pictures};

/// What the user can change about a Lab run; the rest is the trainer's recipe for the data or
/// the given ERM model's ([`LabTask::recipe`]), so that `trainer-native` with the same settings
/// trains the same way.
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
    /// Images per training batch (the trainer's `--batch-size`); `None`: the recipe's.
    pub batch_size: Option<usize>,
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
            batch_size: None,
        }
    }
}

impl LabSettings {
    /// The most images per split the Lab's data holds (its training split).
    pub const MAX_IMAGES: usize = 10_000;
    /// Sides a folder can be read at: the folder recipe's VGG halves its maps three times.
    pub const IMAGE_SIZES: std::ops::RangeInclusive<usize> = 16..=128;
    /// Batch sizes a run can train with.
    pub const BATCH_SIZES: std::ops::RangeInclusive<usize> = 1..=512;

    /// Why these settings cannot run `task` from `erm` (a given model as its file describes it,
    /// or none where the run trains its own), in words for the user.
    pub fn check(&self, task: &LabTask, erm: Option<&BundleMetadata>) -> Result<(), String> {
        if erm.is_none() && !(1..=50).contains(&self.epochs) {
            return Err(format!("{} epochs: choose 1 to 50", self.epochs));
        }
        if !(100..=Self::MAX_IMAGES).contains(&self.images) {
            return Err(format!(
                "{} images: choose 100 to {}",
                self.images,
                Self::MAX_IMAGES
            ));
        }
        if let Some(batch) = self.batch_size
            && !Self::BATCH_SIZES.contains(&batch)
        {
            return Err(format!(
                "batches of {batch} images: choose {} to {}",
                Self::BATCH_SIZES.start(),
                Self::BATCH_SIZES.end()
            ));
        }
        if let (LabTask::Folder { .. }, None) = (task, erm)
            && (!Self::IMAGE_SIZES.contains(&self.image_size) || !self.image_size.is_multiple_of(8))
        {
            return Err(format!(
                "images of {} px: choose a multiple of 8 from {} to {}",
                self.image_size,
                Self::IMAGE_SIZES.start(),
                Self::IMAGE_SIZES.end()
            ));
        }
        if let Some(model) = erm {
            task.check_model(model)?;
        }
        task.recipe(self, erm).recipe.optimizer.validate()
    }
}

/// What a Lab run trains on, as far as the recipe and the bundles depend on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabTask {
    /// `trainer-native pipeline --experiment spurious-mnist`.
    SpuriousMnist,
    /// `trainer-native pipeline --experiment folder`, on a folder of these classes.
    Folder { class_names: Vec<String> },
}

/// Side of spurious MNIST's images.
fn mnist_side() -> usize {
    DatasetKind::SpuriousMnist.input_size().height
}

/// How a run reads its images and builds and trains its models: the trainer's recipe for the
/// task with the user's settings, or what a given ERM model was trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct LabRecipe {
    /// The architecture, optimizer, ERM epochs (none for a given model) and batch size.
    pub recipe: Recipe,
    /// Side of the square images the models take.
    pub image_size: usize,
    pub normalization: Normalization,
    pub augmentation: Augmentation,
    /// The dataset's name in the bundles, as the trainer writes it.
    pub dataset_name: &'static str,
}

impl LabRecipe {
    /// The fine-tuning's learning rate: the last ERM epoch's, as the trainer's `finetune`; for
    /// a given model the schedule's first, as after `trainer-native import --epochs 1`.
    pub fn finetune_lr(&self) -> f64 {
        self.recipe
            .optimizer
            .lr_at(self.recipe.epochs.saturating_sub(1))
    }
}

impl LabTask {
    /// The classes of the task's data, in label order.
    pub fn class_names(&self) -> Vec<String> {
        match self {
            LabTask::SpuriousMnist => spurious_mnist::CLASS_NAMES.map(String::from).to_vec(),
            LabTask::Folder { class_names } => class_names.clone(),
        }
    }

    /// The run's recipe: the trainer's for the task (MNIST's network and statistics for digits;
    /// VGG-11, ImageNet's statistics, crops and flips for photos) with the user's epochs,
    /// learning rate, batch size and image side; from a given ERM model (`erm`), that model's
    /// architecture, input side and normalisation, and no ERM epochs.
    pub fn recipe(&self, settings: &LabSettings, erm: Option<&BundleMetadata>) -> LabRecipe {
        let (mut recipe, normalization, dataset_name) = match self {
            LabTask::SpuriousMnist => (
                Recipe::mnist(2),
                DatasetKind::SpuriousMnist.normalization(),
                DatasetKind::SpuriousMnist.name(),
            ),
            LabTask::Folder { class_names } => (
                Recipe::image_folder(class_names.len()),
                image_folder::NORMALIZATION,
                image_folder::DATASET_NAME,
            ),
        };
        recipe.epochs = settings.epochs;
        recipe.batch_size = settings.batch_size.unwrap_or(recipe.batch_size);
        recipe.optimizer = OptimizerSettings {
            lr: settings.lr,
            ..recipe.optimizer
        };
        let (image_size, normalization) = match (self, erm) {
            (_, Some(model)) => {
                recipe.architecture = model.architecture.clone();
                recipe.epochs = 0;
                (model.input_size.height, model.normalization)
            }
            (LabTask::SpuriousMnist, None) => (mnist_side(), normalization),
            (LabTask::Folder { .. }, None) => (settings.image_size, normalization),
        };
        let augmentation = match self {
            LabTask::SpuriousMnist => Augmentation::None,
            LabTask::Folder { .. } => Augmentation::crop_flip(image_size),
        };
        LabRecipe {
            recipe,
            image_size,
            normalization,
            augmentation,
            dataset_name,
        }
    }

    /// Why a given ERM model cannot be fine-tuned on the task's data: its classes must be the
    /// data's, in the same order, and its input square (28 px for spurious MNIST; a folder is
    /// read at the model's side).
    pub fn check_model(&self, model: &BundleMetadata) -> Result<(), String> {
        let side = match self {
            LabTask::SpuriousMnist => Some(mnist_side()),
            LabTask::Folder { .. } => None,
        };
        model_file::check_fits(model, &self.class_names(), side)?;
        let side = model.input_size.height;
        if !Self::MODEL_SIDES.contains(&side) {
            return Err(format!(
                "the model takes {side} px images: the Lab reads images at {} to {} px",
                Self::MODEL_SIDES.start(),
                Self::MODEL_SIDES.end()
            ));
        }
        Ok(())
    }

    /// Sides a given model's images may have (the paper's ResNet-50 on CelebA takes 224 px).
    pub const MODEL_SIDES: std::ops::RangeInclusive<usize> = 8..=256;
}

/// What a Lab run trains on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LabData {
    /// Spurious MNIST, painted on the Lab's MNIST subset (shipped with the page).
    SpuriousMnist(LabDataUrls),
    /// The user's folder of class subfolders, placed by `masktune::data::image_folder`: its
    /// `files` came before, in [`Request::LabFiles`](super::Request::LabFiles) numbered `folder`.
    Folder { folder: u64, files: usize },
}

/// A file of the user's folder: its path inside the folder (`/` between names) and its content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabFile {
    pub path: String,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub blob: web_sys::Blob,
}

/// Where a Lab run's ERM model comes from.
#[derive(Debug, Serialize, Deserialize)]
pub enum LabErm {
    /// Trained in the run, for the settings' epochs.
    Train,
    /// The user's trained model, a bundle or a safetensors file (`masktune::model_file`): the
    /// run masks with it and fine-tunes it, as `trainer-native import` followed by `mask`,
    /// `finetune` and `evaluate`.
    Given(LabFile),
    /// Trained in an earlier run with the same data and settings, which stopped (or lost its
    /// worker) after the epochs of this checkpoint: the run trains the rest and ends as that
    /// run would have, as `trainer-native train --resume`.
    Continue(Box<LabCheckpoint>),
}

/// ERM training after an epoch, which the page keeps for [`LabErm::Continue`]. Runs on the CPU
/// backend send one after every ERM epoch; runs on WebGPU cannot (Burn reads the optimizer's
/// state synchronously, which a browser's WebGPU cannot).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabCheckpoint {
    /// ERM epochs done.
    pub epochs: usize,
    /// The last epoch's model and the optimizer's state (`masktune::training::checkpoint`).
    #[serde(with = "serde_bytes")]
    pub model: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub optimizer: Vec<u8>,
    /// The training RNG after the last epoch.
    pub rng: RngState,
    /// The best epoch so far (1-based, by validation accuracy) and its model.
    pub best_epoch: usize,
    pub best_val_accuracy: f64,
    #[serde(with = "serde_bytes")]
    pub best_model: Vec<u8>,
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
    /// The page handing the user's folder to the worker (files): the page's own step, before
    /// the run's `StartLab`.
    Handing,
    /// Decoding the user's folder (images).
    Reading,
    /// Training steps of 1 to 8 images that measure the memory a batch takes (one step).
    Memory,
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
        /// Whether these are the images an earlier run read from the same folder (same files,
        /// seed, images per split and side), kept rather than decoded again.
        read_before: bool,
    },
    /// An ERM epoch, or the fine-tuning epoch, finished.
    Epoch(EpochPoint),
    /// ERM training after the epoch just reported, to continue from.
    Checkpoint(Box<LabCheckpoint>),
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

#[cfg(test)]
mod tests {
    use masktune::bundle::{BundleMetadata, CheckpointKind};
    use masktune::models::Architecture;
    use masktune::models::preprocess::{DatasetKind, InputSize};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{LabSettings, LabTask};

    fn folder_task() -> LabTask {
        LabTask::Folder {
            class_names: vec!["blond".into(), "not_blond".into()],
        }
    }

    /// A model of the folder's classes at `side` px, as its file would describe it.
    fn model(side: usize, class_names: &[&str]) -> BundleMetadata {
        BundleMetadata {
            architecture: Architecture::Vgg {
                in_channels: 3,
                num_classes: class_names.len(),
                depth: 11,
                width: 8,
            },
            dataset: "celeba".into(),
            class_names: class_names.iter().map(|name| name.to_string()).collect(),
            input_size: InputSize::square(side),
            normalization: DatasetKind::Cifar10.normalization(),
            checkpoint: CheckpointKind::Erm,
            training: None,
            selective_thresholds: Vec::new(),
            selective_summaries: Vec::new(),
        }
    }

    #[wasm_bindgen_test]
    fn a_given_model_sets_the_architecture_side_and_normalisation_and_trains_no_erm_epoch() {
        let settings = LabSettings {
            epochs: 30,
            image_size: 64,
            ..LabSettings::default()
        };
        let given = model(48, &["blond", "not_blond"]);
        let recipe = folder_task().recipe(&settings, Some(&given));
        assert_eq!(recipe.recipe.architecture, given.architecture);
        assert_eq!(recipe.image_size, 48);
        assert_eq!(recipe.normalization, given.normalization);
        assert_eq!(recipe.recipe.epochs, 0);
        assert_eq!(recipe.finetune_lr(), settings.lr);
        assert_eq!(recipe.dataset_name, "folder");
        // Trained here: the folder recipe at the settings' side, the schedule's last rate.
        let trained = folder_task().recipe(&settings, None);
        assert_eq!(trained.image_size, 64);
        assert_eq!(trained.recipe.epochs, 30);
        assert_eq!(
            trained.finetune_lr(),
            settings.lr,
            "the folder recipe keeps its rate"
        );
    }

    #[wasm_bindgen_test]
    fn the_batch_size_is_the_recipes_unless_the_user_sets_one() {
        let mut settings = LabSettings::default();
        assert_eq!(
            LabTask::SpuriousMnist
                .recipe(&settings, None)
                .recipe
                .batch_size,
            128
        );
        assert_eq!(folder_task().recipe(&settings, None).recipe.batch_size, 64);
        settings.batch_size = Some(8);
        let given = model(48, &["blond", "not_blond"]);
        for recipe in [
            LabTask::SpuriousMnist.recipe(&settings, None),
            folder_task().recipe(&settings, Some(&given)),
        ] {
            assert_eq!(recipe.recipe.batch_size, 8);
        }
        settings.batch_size = Some(0);
        assert_eq!(
            settings.check(&LabTask::SpuriousMnist, None),
            Err("batches of 0 images: choose 1 to 512".into())
        );
    }

    #[wasm_bindgen_test]
    fn a_given_model_must_fit_the_datas_classes_and_images() {
        let settings = LabSettings {
            // Ignored with a given model: it trains no ERM epoch and sets the side.
            epochs: 0,
            image_size: 7,
            ..LabSettings::default()
        };
        let task = folder_task();
        assert_eq!(
            settings.check(&task, Some(&model(48, &["blond", "not_blond"]))),
            Ok(())
        );
        assert_eq!(
            settings.check(&task, Some(&model(48, &["not_blond", "blond"]))),
            Err(
                "the model's classes are not_blond, blond, the data's blond, not_blond: give a \
                 model trained on these classes, in this order"
                    .into()
            )
        );
        assert_eq!(
            settings.check(&task, Some(&model(512, &["blond", "not_blond"]))),
            Err("the model takes 512 px images: the Lab reads images at 8 to 256 px".into())
        );
        let mnist = model(64, &["0-4", "5-9"]);
        assert_eq!(
            LabTask::SpuriousMnist.check_model(&mnist),
            Err("the model takes 64 px images, the data's are 28 px".into())
        );
        let mut wide = model(64, &["blond", "not_blond"]);
        wide.input_size = InputSize {
            height: 64,
            width: 96,
        };
        assert_eq!(
            task.check_model(&wide),
            Err("the model takes 64x96 px images; the data's are square".into())
        );
        // Without a model, the same settings are refused.
        assert_eq!(
            settings.check(&task, None),
            Err("0 epochs: choose 1 to 50".into())
        );
    }
}

//! The command line: argument definitions and their translation into a run's settings.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use masktune::bundle::WeightPrecision;
use masktune::inference::ModelPair;
use masktune::training::optimizer::{OptimizerKind, OptimizerSettings};

use crate::backend::{Backend, Masking};
use crate::predict::load_pair;
use crate::train::config::RunConfig;
use crate::train::experiment::{self, Datasets, Experiment, ModelFamily};
use crate::train::export::ExportFile;
use crate::train::run_dir::RunDir;
use crate::train::{Result, TrainError};

#[derive(Debug, Parser)]
#[command(
    name = "trainer-native",
    version,
    about = "MaskTune (NeurIPS 2022): ERM training, XGradCAM masking, one-epoch fine-tuning, evaluation and export"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// ERM training; keeps the best and the last checkpoint (DESIGN.md step 1).
    Train(TrainArgs),
    /// A PyTorch model (.pth/.pt state dict or .safetensors) as a run's ERM model, instead of
    /// training one: `mask`, `finetune`, `evaluate` and `export` go on from it.
    Import(ImportArgs),
    /// Masks every training image with XGradCAM of the best ERM model (steps 2-3).
    Mask(StepArgs),
    /// One epoch on the masked images from the last ERM checkpoint (step 4).
    Finetune(StepArgs),
    /// Accuracy, group accuracy and selective classification of ERM vs MaskTune (step 5), of a
    /// run's checkpoints or of an exported bundle pair.
    Evaluate(EvaluateArgs),
    /// Writes the ERM and MaskTune model bundles for the app.
    Export(ExportArgs),
    /// train → mask → finetune → evaluate → export.
    Pipeline(PipelineArgs),
    /// Rewrites a bundle with its weights in another precision (e.g. int8 for the web).
    ConvertBundle(ConvertBundleArgs),
    /// Stores a MaskTune bundle's weights as their difference from its ERM bundle's: a fraction
    /// of the download for an int8 pair, read by the page and `predict` with the ERM bundle;
    /// `--restore` writes such a bundle whole again. The weights are kept byte for byte.
    WeightsDifference(WeightsDifferenceArgs),
    /// Runs an exported ERM + MaskTune bundle pair on image files as the web page does; prints JSON.
    Predict(PredictArgs),
    /// Mean ± std over repeats of one experiment (seeds): accuracy per group, worst group with
    /// its binomial interval, the selective table; prints Markdown.
    Summarize(SummarizeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SummarizeArgs {
    /// Names of the runs (e.g. one per seed), each evaluated by `pipeline` or `evaluate`.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Folder holding the runs.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// The ERM bundle (`runs/<name>/bundles/erm.bundle`).
    #[arg(long)]
    pub erm: PathBuf,
    /// The MaskTune bundle of the same run.
    #[arg(long)]
    pub masktune: PathBuf,
    /// Target coverage whose validation threshold decides accept or abstain.
    #[arg(long, default_value_t = 0.9)]
    pub coverage: f64,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where images sit in folders named after the models' classes (`<class>/<image>`, as an
    /// image folder's test split): write their accuracy per class (ERM, MaskTune, and the pair on
    /// what it accepts) as JSON here. The table is printed on standard error either way.
    #[arg(long)]
    pub labelled: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// What computes the XGradCAM maps and masks.
    #[arg(long, value_enum, default_value_t = Masking::Auto)]
    pub masking: Masking,
    /// Image files (any format the `image` crate reads), centre-cropped and resized to the input.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// Which run folder: `<runs-dir>/<name>/`.
#[derive(Debug, Clone, Args)]
pub struct RunLocation {
    /// Folder holding the runs.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// What computes the masking pass's XGradCAM maps and masks.
    #[arg(long, value_enum, default_value_t = Masking::Auto)]
    pub masking: Masking,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Start from these PyTorch weights (.pth/.pt state dict or .safetensors, e.g.
    /// torchvision's ImageNet ResNet-50) instead of a random initialisation; a classifier for
    /// another number of classes is left out (it starts fresh).
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Continue the run from its last checkpoint (same settings; `--epochs` may be raised).
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The PyTorch weights of the ERM model: a .pth/.pt state dict (also inside a training
    /// checkpoint's dict, with or without a `module.` prefix) or a .safetensors file, with the
    /// keys of the module that pytorch/masktune_models.py builds for the architecture.
    #[arg(long)]
    pub weights: PathBuf,
}

/// What defines a run: the experiment, its data, the model and the training settings (for an
/// imported model, those of the fine-tuning that follows).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    pub experiment: Experiment,
    /// Run name (default: the experiment's name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub location: RunLocation,
    /// Data folder (default: $MASKTUNE_DATA/<dataset>, else ~/.cache/masktune/data/<dataset>,
    /// where <dataset> is mnist, cifar10, celeba or folder).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// First download MNIST or CIFAR-10 into the data folder if it lacks them (from the
    /// official sources, checked against their published MD5s).
    #[arg(long)]
    pub download: bool,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate of the first epoch.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Epochs (counted from 0) at which the learning rate is multiplied by `--lr-gamma`,
    /// comma-separated (default: every 25 epochs, as the authors' scripts).
    #[arg(long, value_delimiter = ',')]
    pub lr_milestones: Option<Vec<usize>>,
    /// Factor applied to the learning rate at each milestone.
    #[arg(long)]
    pub lr_gamma: Option<f64>,
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    #[arg(long)]
    pub momentum: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Side of the square images (CelebA and image folders; MNIST and CIFAR have fixed sizes).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Use at most N images of every split (quick runs and tests).
    #[arg(long)]
    pub subset: Option<usize>,
    /// Model family (default: the experiment's).
    #[arg(long, value_enum)]
    pub model: Option<ModelFamily>,
    #[arg(long)]
    pub depth: Option<usize>,
    /// Channels of the first stage.
    #[arg(long)]
    pub width: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct StepArgs {
    /// Run name (as given to `train`).
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub location: RunLocation,
    /// Data folder, if it moved since training.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// How bundles store the weights of the convolutions and linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Weights {
    #[default]
    F32,
    /// Half the bytes; read back to f32.
    F16,
    /// A quarter of the bytes: 8-bit integers with an f32 scale per output channel, read back
    /// to f32 (the page's shipped bundles are int8).
    Int8,
}

impl From<Weights> for WeightPrecision {
    fn from(weights: Weights) -> Self {
        match weights {
            Weights::F32 => WeightPrecision::F32,
            Weights::F16 => WeightPrecision::F16,
            Weights::Int8 => WeightPrecision::Int8,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExportOptions {
    /// Precision of the exported bundles' convolution and linear weights (batch norms stay f32).
    #[arg(long, value_enum, default_value_t)]
    pub weights: Weights,
}

impl ExportOptions {
    /// What to write in `format`.
    pub fn file(&self, format: FileFormat) -> Result<ExportFile> {
        match (format, self.weights) {
            (FileFormat::Bundle, weights) => Ok(ExportFile::Bundle(weights.into())),
            (FileFormat::Safetensors, Weights::F32) => Ok(ExportFile::Safetensors),
            (FileFormat::Safetensors, weights) => Err(TrainError::Settings(format!(
                "--weights {} is for bundles: safetensors state dicts are written in f32 \
                 (`model.half()` halves them in PyTorch)",
                weights
                    .to_possible_value()
                    .map_or_else(String::new, |v| v.get_name().to_string())
            ))),
        }
    }
}

/// Which file `export` and `convert-bundle` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FileFormat {
    /// A model bundle (`.bundle`) for the page and `predict`.
    #[default]
    Bundle,
    /// A `.safetensors` state dict with the PyTorch module's keys (pytorch/masktune_models.py
    /// builds the module from the metadata it carries), in f32.
    Safetensors,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub step: StepArgs,
    #[command(flatten)]
    pub export: ExportOptions,
    #[arg(long, value_enum, default_value_t)]
    pub format: FileFormat,
}

#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub export: ExportOptions,
}

#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// Run name (as given to `train`): evaluates its checkpoints into its report.
    #[arg(long, required_unless_present = "erm", conflicts_with = "erm")]
    pub name: Option<String>,
    #[command(flatten)]
    pub location: RunLocation,
    /// Data folder: a run's, if it moved since training; for bundles, as `train --data`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// For bundles: first download MNIST or CIFAR-10 into the data folder if it lacks them.
    #[arg(long, requires = "erm")]
    pub download: bool,
    /// An exported ERM bundle: evaluates it with --masktune's on --dataset, instead of a run.
    #[arg(long, requires_all = ["masktune", "dataset"])]
    pub erm: Option<PathBuf>,
    /// The MaskTune bundle of the same run as --erm.
    #[arg(long, requires = "erm")]
    pub masktune: Option<PathBuf>,
    /// The data the bundles are evaluated on; its validation split chooses the thresholds.
    #[arg(long, value_enum, requires = "erm")]
    pub dataset: Option<Experiment>,
    /// Seed of the data's validation holdout and spurious squares (default: the bundles'
    /// training seed, as the run that made them split its data).
    #[arg(long, requires = "erm")]
    pub seed: Option<u64>,
    /// Use at most N images of every split.
    #[arg(long, requires = "erm")]
    pub subset: Option<usize>,
    /// Images per batch (bundles).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Also write the evaluation as JSON to this file (bundles).
    #[arg(long, requires = "erm")]
    pub json: Option<PathBuf>,
    /// Write the selective thresholds chosen here on validation, and the test risk-coverage
    /// summaries, into both bundles' metadata (weights kept byte for byte), e.g. after
    /// `convert-bundle --weights int8`.
    #[arg(long, requires = "erm")]
    pub write_thresholds: bool,
}

impl EvaluateArgs {
    /// The run to evaluate, when no bundles are given.
    pub fn run(&self) -> Option<StepArgs> {
        self.name.clone().map(|name| StepArgs {
            name,
            location: self.location.clone(),
            data: self.data.clone(),
        })
    }

    /// The bundle pair and the data it is evaluated on, when bundles are given.
    pub fn resolve_bundles(&self) -> Result<Option<(ModelPair, Datasets)>> {
        let (Some(erm), Some(masktune), Some(experiment)) =
            (&self.erm, &self.masktune, self.dataset)
        else {
            return Ok(None);
        };
        let device = self.location.backend.device()?;
        let pair = load_pair((erm, masktune), &device)?;
        let trained_with = pair.meta.training.as_ref().and_then(|t| t.seed);
        let seed = self.seed.or(trained_with).unwrap_or(0);
        let dir = data_folder(self.data.as_ref(), self.download, experiment)?;
        let side = pair.meta.input_size.width;
        let sets = experiment::load(experiment, &dir, seed, side, self.subset)?;
        experiment::check(&sets, pair.meta.class_names.len())?;
        Ok(Some((pair, sets)))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ConvertBundleArgs {
    /// The bundle to read.
    pub input: PathBuf,
    /// Where to write the converted bundle (written atomically; may be the input itself).
    pub output: PathBuf,
    #[command(flatten)]
    pub export: ExportOptions,
    #[arg(long, value_enum, default_value_t)]
    pub format: FileFormat,
    /// The ERM bundle that the input's weights are stored against, when the input is a MaskTune
    /// bundle stored as a difference (`weights-difference`), as the page's are.
    #[arg(long)]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct WeightsDifferenceArgs {
    /// The MaskTune bundle (with --restore: one stored as a difference).
    pub input: PathBuf,
    /// Where to write it (written atomically; may be the input itself).
    pub output: PathBuf,
    /// The ERM bundle of the same run, in the same weight precision.
    #[arg(long)]
    pub base: PathBuf,
    /// Write a bundle stored as a difference whole again.
    #[arg(long)]
    pub restore: bool,
}

/// The environment variable naming the folder that holds one folder per data set.
pub const DATA_ENV: &str = "MASKTUNE_DATA";

/// `given`, or `<dataset>` under `$MASKTUNE_DATA` or else under the user's cache folder
/// (`~/.cache/masktune/data` on Linux); downloaded first when `download` is set.
fn data_folder(given: Option<&PathBuf>, download: bool, experiment: Experiment) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.clone(),
        None => std::env::var_os(DATA_ENV)
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|cache| cache.join("masktune").join("data")))
            .ok_or_else(|| {
                TrainError::Settings(format!(
                    "no cache folder is known for this user: give --data DIR or set {DATA_ENV}"
                ))
            })?
            .join(experiment.default_data_folder()),
    };
    if download {
        experiment::download(experiment, &dir)?;
    }
    Ok(dir)
}

impl RunArgs {
    pub fn run_dir(&self) -> RunDir {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| self.experiment.name().into());
        RunDir::new(self.location.runs_dir.join(name))
    }

    /// Loads the data and builds the run's settings from the arguments and the experiment's
    /// defaults; `init_from` names the PyTorch weights the model starts from.
    pub fn resolve(&self, init_from: Option<&Path>) -> Result<(RunConfig, Datasets)> {
        let e = self.experiment;
        let data_dir = data_folder(self.data.as_ref(), self.download, e)?;
        let image_size = self.image_size.unwrap_or(e.default_image_size());
        let sets = experiment::load(e, &data_dir, self.seed, image_size, self.subset)?;
        let defaults = e.defaults(sets.train.class_names.len());
        let architecture = experiment::architecture(
            &defaults.architecture,
            self.model,
            self.depth,
            self.width,
            image_size,
        )?;
        let d = defaults.optimizer;
        let optimizer = OptimizerSettings {
            kind: self.optimizer.unwrap_or(d.kind),
            lr: self.lr.unwrap_or(d.lr),
            momentum: self.momentum.unwrap_or(d.momentum),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            milestones: self.lr_milestones.clone().unwrap_or(d.milestones),
            gamma: self.lr_gamma.unwrap_or(d.gamma),
        };
        optimizer.validate().map_err(TrainError::Settings)?;
        let positive = |name: &str, v: usize| {
            if v > 0 {
                Ok(v)
            } else {
                Err(TrainError::Settings(format!("--{name} must be at least 1")))
            }
        };
        let config = RunConfig {
            experiment: e,
            data_dir,
            seed: self.seed,
            subset: self.subset,
            image_size,
            architecture,
            normalization: e.normalization(),
            augmentation: e.augmentation(image_size),
            optimizer,
            epochs: positive("epochs", self.epochs.unwrap_or(defaults.epochs))?,
            batch_size: positive("batch-size", self.batch_size.unwrap_or(defaults.batch_size))?,
            init_from: init_from.map(Path::to_path_buf),
        };
        experiment::check(&sets, config.architecture.num_classes())?;
        Ok((config, sets))
    }
}

impl StepArgs {
    pub fn run_dir(&self) -> RunDir {
        RunDir::new(self.location.runs_dir.join(&self.name))
    }

    /// Reads the run's settings and loads the same data again.
    pub fn resolve(&self) -> Result<(RunConfig, Datasets)> {
        let config = self.config()?;
        let sets = experiment::load(
            config.experiment,
            &config.data_dir,
            config.seed,
            config.image_size,
            config.subset,
        )?;
        experiment::check(&sets, config.architecture.num_classes())?;
        Ok((config, sets))
    }

    /// Reads the run's settings (`config.json`), with the data folder given here if any.
    pub fn config(&self) -> Result<RunConfig> {
        let path = self.run_dir().config();
        if !path.exists() {
            return Err(TrainError::Missing {
                path,
                hint: format!("no run named {:?} here: run `train` first", self.name),
            });
        }
        let bytes = std::fs::read(&path).map_err(TrainError::io("read", &path))?;
        let mut config: RunConfig = serde_json::from_slice(&bytes).map_err(|e| {
            TrainError::Settings(format!("{} is not a run config: {e}", path.display()))
        })?;
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        Ok(config)
    }
}

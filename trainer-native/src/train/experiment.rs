//! The experiments the trainer runs: their data, model, preprocessing and training defaults.
//!
//! Defaults follow the authors' scripts ([`masktune::training::recipe`]) with fewer epochs so
//! that a CPU finishes them; see `defaults`.

use std::path::Path;

use masktune::models::Architecture;
use masktune::models::preprocess::{DatasetKind, Normalization};
use masktune::training::augment::Augmentation;
use masktune::training::{Recipe, authors_sgd};
use serde::{Deserialize, Serialize};

use super::error::{Result, TrainError};
use crate::data::{self, ImageSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// MNIST 0-4 vs 5-9 with a red square on 99 % of class 0 (DESIGN.md).
    SpuriousMnist,
    /// MNIST's ten digits as they are (RGB, as spurious MNIST's), e.g. to evaluate a model on
    /// clean digits.
    Mnist,
    /// CIFAR-10, all ten classes.
    Cifar10,
    /// CelebA Blond_Hair, spurious attribute Male.
    Celeba,
    /// Any class-per-folder image set.
    Folder,
}

/// The model families `--model` can pick; depth and width come from `--depth` / `--width` or
/// the experiment's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelFamily {
    /// Our small CNN with a GAP + linear head (7x7 last block on MNIST).
    SmallCnn,
    /// The MaskTune authors' MNIST network (unpadded convs, flattening MLP head, 8x8 last block).
    MnistCnn,
    Vgg,
    CifarResnet,
    Resnet,
}

impl Experiment {
    pub fn name(self) -> &'static str {
        match self {
            Experiment::SpuriousMnist => "spurious-mnist",
            Experiment::Mnist => "mnist",
            Experiment::Cifar10 => "cifar10",
            Experiment::Celeba => "celeba",
            Experiment::Folder => "folder",
        }
    }

    /// The folder under `../shared/data` the data lives in by default.
    pub fn default_data_folder(self) -> &'static str {
        match self {
            Experiment::SpuriousMnist | Experiment::Mnist => "mnist",
            Experiment::Cifar10 => "cifar10",
            Experiment::Celeba => "celeba",
            Experiment::Folder => "folder",
        }
    }

    /// Side of the square images: MNIST's and CIFAR's own; 64 for CelebA and folders (CPU-sized;
    /// the paper's 224 via `--image-size`).
    pub fn default_image_size(self) -> usize {
        match self {
            Experiment::SpuriousMnist | Experiment::Mnist => 28,
            Experiment::Cifar10 => 32,
            Experiment::Celeba | Experiment::Folder => 64,
        }
    }

    /// Per-channel normalisation (ImageNet statistics for anything that is not MNIST or CIFAR).
    pub fn normalization(self) -> Normalization {
        match self {
            Experiment::SpuriousMnist | Experiment::Mnist => {
                DatasetKind::SpuriousMnist.normalization()
            }
            Experiment::Cifar10 => DatasetKind::Cifar10.normalization(),
            Experiment::Celeba => DatasetKind::CelebA.normalization(),
            Experiment::Folder => masktune::data::image_folder::NORMALIZATION,
        }
    }

    /// The "normal augmentation" of the paper's pipelines: none for MNIST, a random crop of the
    /// zero-padded image (padding = side / 8, i.e. 4 for 32x32) and a horizontal flip otherwise.
    pub fn augmentation(self, image_size: usize) -> Augmentation {
        match self {
            Experiment::SpuriousMnist | Experiment::Mnist => Augmentation::None,
            _ => Augmentation::crop_flip(image_size),
        }
    }

    /// Defaults for `num_classes` classes (known up front except for image folders).
    ///
    /// * spurious MNIST and MNIST: [`Recipe::mnist`] (the page's Lab trains with it too).
    /// * CIFAR-10: VGG-11 at half width (the seed's VGG, CPU-sized; `--model cifar-resnet --depth 32`
    ///   is the paper's ResNet-32), SGD lr 0.1 as the authors, 30 epochs instead of 300.
    /// * CelebA / folders: [`Recipe::image_folder`] (the page's Lab trains folders with it too).
    pub fn defaults(self, num_classes: usize) -> Recipe {
        match self {
            Experiment::SpuriousMnist | Experiment::Mnist => Recipe::mnist(num_classes),
            Experiment::Cifar10 => Recipe {
                architecture: Architecture::cifar10_vgg(),
                optimizer: authors_sgd(0.1, 0.5),
                epochs: 30,
                batch_size: 128,
            },
            Experiment::Celeba | Experiment::Folder => Recipe::image_folder(num_classes),
        }
    }
}

/// Builds an architecture of `family` with the experiment default's class count for
/// `image_size` x `image_size` images, overriding depth and width where given.
pub fn architecture(
    default: &Architecture,
    family: Option<ModelFamily>,
    depth: Option<usize>,
    width: Option<usize>,
    image_size: usize,
) -> Result<Architecture> {
    let (in_channels, num_classes) = (default.in_channels(), default.num_classes());
    let (default_depth, default_width) = match *default {
        Architecture::SmallCnn { width, .. } | Architecture::MnistCnn { width, .. } => (0, width),
        Architecture::Vgg { depth, width, .. }
        | Architecture::CifarResNet { depth, width, .. }
        | Architecture::ResNet { depth, width, .. } => (depth, width),
    };
    let default_family = family_of(default);
    let family = family.unwrap_or(default_family);
    let same_family = family == default_family;
    let depth = depth.unwrap_or(match family {
        _ if same_family => default_depth,
        ModelFamily::SmallCnn | ModelFamily::MnistCnn => 0,
        ModelFamily::Vgg => 11,
        ModelFamily::CifarResnet => 32,
        ModelFamily::Resnet => 18,
    });
    let width = width.unwrap_or(match family {
        _ if same_family => default_width,
        ModelFamily::SmallCnn | ModelFamily::MnistCnn | ModelFamily::CifarResnet => 16,
        ModelFamily::Vgg | ModelFamily::Resnet => 32,
    });
    let arch = match family {
        ModelFamily::SmallCnn => Architecture::SmallCnn {
            in_channels,
            num_classes,
            width,
        },
        ModelFamily::MnistCnn => Architecture::MnistCnn {
            in_channels,
            num_classes,
            width,
            input_size: image_size,
        },
        ModelFamily::Vgg => Architecture::Vgg {
            in_channels,
            num_classes,
            depth,
            width,
        },
        ModelFamily::CifarResnet => Architecture::CifarResNet {
            in_channels,
            num_classes,
            depth,
            width,
        },
        ModelFamily::Resnet => Architecture::ResNet {
            in_channels,
            num_classes,
            depth,
            width,
        },
    };
    arch.validate()
        .map_err(|e| TrainError::Settings(e.to_string()))?;
    Ok(arch)
}

fn family_of(arch: &Architecture) -> ModelFamily {
    match arch {
        Architecture::SmallCnn { .. } => ModelFamily::SmallCnn,
        Architecture::MnistCnn { .. } => ModelFamily::MnistCnn,
        Architecture::Vgg { .. } => ModelFamily::Vgg,
        Architecture::CifarResNet { .. } => ModelFamily::CifarResnet,
        Architecture::ResNet { .. } => ModelFamily::Resnet,
    }
}

/// A labelled evaluation set with the name reports use for it.
#[derive(Debug, Clone)]
pub struct NamedSet {
    pub name: String,
    pub set: ImageSet,
}

/// The splits of one experiment: a training and a validation set, and one or more test sets
/// (spurious MNIST has an original and a biased one).
#[derive(Debug, Clone)]
pub struct Datasets {
    pub train: ImageSet,
    pub val: ImageSet,
    pub tests: Vec<NamedSet>,
}

/// Downloads the experiment's data into `dir` where it can be (MNIST, CIFAR-10: what is there
/// already is kept); for the others, says where to get it and how to lay it out.
pub fn download(experiment: Experiment, dir: &Path) -> Result<()> {
    let sources = data::download::Sources::official();
    match experiment {
        Experiment::SpuriousMnist | Experiment::Mnist => {
            Ok(data::download::download_mnist(dir, &sources)?)
        }
        Experiment::Cifar10 => Ok(data::download::download_cifar10(dir, &sources)?),
        Experiment::Celeba => Err(TrainError::Settings(format!(
            "--download cannot fetch CelebA into {}: {}",
            dir.display(),
            data::celeba::LAYOUT
        ))),
        Experiment::Folder => Err(TrainError::Settings(format!(
            "--download has nothing to fetch for an image folder, which is your own data: give \
             --data DIR, {}",
            data::image_folder::LAYOUT
        ))),
    }
}

/// Loads the experiment's data. `seed` chooses validation holdouts, spurious squares and subsets;
/// `subset` keeps at most that many images of every split (for tests and quick demos).
pub fn load(
    experiment: Experiment,
    dir: &Path,
    seed: u64,
    image_size: usize,
    subset: Option<usize>,
) -> Result<Datasets> {
    let fixed_size = |side: usize, what: &str| {
        if image_size == side {
            Ok(())
        } else {
            Err(TrainError::Settings(format!(
                "{what} images are {side}x{side}; --image-size {image_size} is not supported"
            )))
        }
    };
    let named = |name: &str, set: ImageSet| NamedSet {
        name: name.into(),
        set,
    };
    let sets = match experiment {
        Experiment::SpuriousMnist => {
            fixed_size(28, "MNIST")?;
            let config = data::spurious_mnist::SpuriousConfig {
                seed,
                ..Default::default()
            };
            let s = data::spurious_mnist::load(dir, &config)?;
            Datasets {
                train: s.train,
                val: s.val,
                tests: vec![
                    named("test_original", s.test_original),
                    named("test_biased", s.test_biased),
                ],
            }
        }
        Experiment::Mnist => {
            fixed_size(28, "MNIST")?;
            let s = data::mnist::load(dir, seed)?;
            Datasets {
                train: s.train,
                val: s.val,
                tests: vec![named("test", s.test)],
            }
        }
        Experiment::Cifar10 => {
            fixed_size(32, "CIFAR-10")?;
            let s = data::cifar10::load(dir, seed)?;
            Datasets {
                train: s.train,
                val: s.val,
                tests: vec![named("test", s.test)],
            }
        }
        Experiment::Celeba => {
            let options = data::celeba::CelebaOptions {
                image_size: side_u32(image_size)?,
                max_per_split: subset,
                ..Default::default()
            };
            let s = data::celeba::load(dir, &options)?.split;
            Datasets {
                train: s.train,
                val: s.val,
                tests: vec![named("test", s.test)],
            }
        }
        Experiment::Folder => {
            // The folder's sets are chosen, subset included, before its images are decoded.
            let f = data::image_folder::load(dir, side_u32(image_size)?, seed, subset)?;
            return Ok(Datasets {
                train: f.train,
                val: f.val,
                tests: vec![named("test", f.test)],
            });
        }
    };
    Ok(match subset {
        None => sets,
        Some(n) => Datasets {
            train: sets.train.shuffled_subset(n, seed),
            val: sets.val.shuffled_subset(n, seed),
            tests: sets
                .tests
                .into_iter()
                .map(|t| NamedSet {
                    name: t.name,
                    set: t.set.shuffled_subset(n, seed),
                })
                .collect(),
        },
    })
}

fn side_u32(side: usize) -> Result<u32> {
    u32::try_from(side)
        .ok()
        .filter(|&s| (8..=1024).contains(&s))
        .ok_or_else(|| {
            TrainError::Settings(format!("--image-size {side} is not between 8 and 1024"))
        })
}

/// Checks that a loaded training set has what training needs.
pub fn check(sets: &Datasets, num_classes: usize) -> Result<()> {
    let all = std::iter::once(("train", &sets.train))
        .chain(std::iter::once(("val", &sets.val)))
        .chain(sets.tests.iter().map(|t| (t.name.as_str(), &t.set)));
    for (name, set) in all {
        if set.is_empty() {
            return Err(TrainError::Settings(format!("the {name} split is empty")));
        }
        if set.class_names.len() != num_classes {
            return Err(TrainError::Settings(format!(
                "the {name} split has {} classes, the model {num_classes}",
                set.class_names.len()
            )));
        }
    }
    Ok(())
}

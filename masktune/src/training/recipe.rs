//! Training settings that follow the MaskTune authors' scripts (aliasgharkhani/Masktune,
//! `bash_files/*.sh` and `src/arguments.py`: SGD, momentum 0.9, weight decay 1e-4, batch 128, the
//! learning rate halved every 25 epochs). The trainer's experiments start from them, and the
//! page's Lab from the MNIST one, so that the two train alike.

use super::optimizer::{OptimizerKind, OptimizerSettings};
use crate::models::Architecture;

/// A model and how to train it, before the command line or the Lab's controls change it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    pub architecture: Architecture,
    pub optimizer: OptimizerSettings,
    pub epochs: usize,
    pub batch_size: usize,
}

/// The authors' SGD at learning rate `lr`, multiplied by `gamma` every 25 epochs.
pub fn authors_sgd(lr: f64, gamma: f64) -> OptimizerSettings {
    OptimizerSettings {
        kind: OptimizerKind::Sgd,
        lr,
        momentum: 0.9,
        weight_decay: 1e-4,
        milestones: (1..=11).map(|i| 25 * i).collect(),
        gamma,
    }
}

impl Recipe {
    /// (Spurious) MNIST: the authors' network with `num_classes` classes, SGD lr 0.01 (their
    /// script), 10 epochs instead of 100 (the shortcut is learnt in the first epoch; the
    /// schedule never kicks in either way).
    pub fn mnist(num_classes: usize) -> Recipe {
        Recipe {
            architecture: Architecture::MnistCnn {
                in_channels: 3,
                num_classes,
                width: 16,
                input_size: 28,
            },
            optimizer: authors_sgd(0.01, 0.5),
            epochs: 10,
            batch_size: 128,
        }
    }

    /// CelebA and image folders (the trainer's and the page's Lab): VGG-11 at a quarter width,
    /// whose last block is 8x8 on 64x64 images, from scratch at SGD lr 0.01 for 20 epochs, batch
    /// 64. The paper fine-tunes an ImageNet-pretrained ResNet-50 on 224x224 instead; a ResNet on
    /// 64x64 ends in a 2x2 block, too coarse for the mean + 2 std mask to hide anything
    /// (docs/RESULTS.md).
    pub fn image_folder(num_classes: usize) -> Recipe {
        Recipe {
            architecture: Architecture::Vgg {
                in_channels: 3,
                num_classes,
                depth: 11,
                width: 16,
            },
            optimizer: authors_sgd(0.01, 1.0),
            epochs: 20,
            batch_size: 64,
        }
    }
}

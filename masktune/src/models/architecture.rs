//! Which model to build, as serialisable settings, and the model built from them.
//!
//! Bundles carry an [`Architecture`] in their metadata, so the trainer and the app build the
//! right network from it and load the weights into that.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::mnist_cnn::{MnistCnn, mnist_cnn_feature_side};
use super::plain_cnn::PlainCnn;
use super::resnet::{IMAGENET_RESNET_DEPTHS, ResNet, cifar_blocks_per_stage, imagenet_layout};
use super::vgg::{VGG_DEPTHS, vgg_stage_lengths};
use crate::cam_model::CamModel;

/// Bounds that keep a hostile or corrupt metadata file from asking for an absurd network.
const MAX_IN_CHANNELS: usize = 16;
const MAX_CLASSES: usize = 10_000;
const MAX_WIDTH: usize = 512;
const MAX_MNIST_CNN_INPUT: usize = 512;
const MAX_CIFAR_RESNET_DEPTH: usize = 1202;

/// A model family and its settings. `width` is the channel count of the first stage (the rest
/// scale with it); `depth` picks the layout within the family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Architecture {
    /// [`PlainCnn::small_cnn`]: three stages of `width`, `2*width`, `4*width` channels.
    SmallCnn {
        in_channels: usize,
        num_classes: usize,
        width: usize,
    },
    /// [`MnistCnn`], the MaskTune authors' spurious-MNIST network (`width` 16 is theirs). Its
    /// flattening head fixes the image side, `input_size`.
    MnistCnn {
        in_channels: usize,
        num_classes: usize,
        width: usize,
        input_size: usize,
    },
    /// [`PlainCnn::vgg`] of depth 11, 13, 16 or 19; `width` 64 is the paper's, 32 halves it.
    Vgg {
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
    },
    /// CIFAR-style [`ResNet`] of depth `6n + 2`; `width` 16 is the paper's.
    #[serde(rename = "cifar_resnet")]
    CifarResNet {
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
    },
    /// ImageNet-style [`ResNet`] of depth 10, 18, 34, 50 or 101; `width` 64 is the paper's.
    #[serde(rename = "resnet")]
    ResNet {
        in_channels: usize,
        num_classes: usize,
        depth: usize,
        width: usize,
    },
}

/// The family, depth and width, as a person writes them ("VGG-11 (width 16)").
impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Architecture::SmallCnn { width, .. } => write!(f, "small CNN (width {width})"),
            Architecture::MnistCnn { width, .. } => write!(f, "MNIST CNN (width {width})"),
            Architecture::Vgg { depth, width, .. } => write!(f, "VGG-{depth} (width {width})"),
            Architecture::CifarResNet { depth, width, .. } => {
                write!(f, "CIFAR ResNet-{depth} (width {width})")
            }
            Architecture::ResNet { depth, width, .. } => {
                write!(f, "ResNet-{depth} (width {width})")
            }
        }
    }
}

/// Settings that do not describe a network this crate can build.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid architecture: {0}")]
pub struct InvalidArchitecture(pub String);

impl Architecture {
    /// The authors' spurious-MNIST network: RGB 28x28 input, two classes ({0-4} vs {5-9}),
    /// width 16.
    pub fn spurious_mnist() -> Self {
        Self::MnistCnn {
            in_channels: 3,
            num_classes: 2,
            width: 16,
            input_size: 28,
        }
    }

    /// The CPU-friendly CIFAR-10 VGG: VGG-11 at half width.
    pub fn cifar10_vgg() -> Self {
        Self::Vgg {
            in_channels: 3,
            num_classes: 10,
            depth: 11,
            width: 32,
        }
    }

    /// The paper's CIFAR-10 model: ResNet-32 with 16/32/64 channels.
    pub fn cifar10_resnet32() -> Self {
        Self::CifarResNet {
            in_channels: 3,
            num_classes: 10,
            depth: 32,
            width: 16,
        }
    }

    /// The paper's CelebA model: ResNet-50, two classes (blond or not).
    pub fn celeba_resnet50() -> Self {
        Self::ResNet {
            in_channels: 3,
            num_classes: 2,
            depth: 50,
            width: 64,
        }
    }

    pub fn in_channels(&self) -> usize {
        match self {
            Self::SmallCnn { in_channels, .. }
            | Self::MnistCnn { in_channels, .. }
            | Self::Vgg { in_channels, .. }
            | Self::CifarResNet { in_channels, .. }
            | Self::ResNet { in_channels, .. } => *in_channels,
        }
    }

    pub fn num_classes(&self) -> usize {
        match self {
            Self::SmallCnn { num_classes, .. }
            | Self::MnistCnn { num_classes, .. }
            | Self::Vgg { num_classes, .. }
            | Self::CifarResNet { num_classes, .. }
            | Self::ResNet { num_classes, .. } => *num_classes,
        }
    }

    fn width(&self) -> usize {
        match self {
            Self::SmallCnn { width, .. }
            | Self::MnistCnn { width, .. }
            | Self::Vgg { width, .. }
            | Self::CifarResNet { width, .. }
            | Self::ResNet { width, .. } => *width,
        }
    }

    /// Checks that [`init`](Self::init) can build this network (and that it is not absurdly
    /// large). Call it on settings that come from outside, e.g. a bundle's metadata.
    pub fn validate(&self) -> Result<(), InvalidArchitecture> {
        let bounded = |name: &str, value: usize, max: usize| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(InvalidArchitecture(format!(
                    "{name} is {value}, expected 1 to {max}"
                )))
            }
        };
        bounded("in_channels", self.in_channels(), MAX_IN_CHANNELS)?;
        bounded("num_classes", self.num_classes(), MAX_CLASSES)?;
        bounded("width", self.width(), MAX_WIDTH)?;
        match *self {
            Self::SmallCnn { .. } => Ok(()),
            Self::MnistCnn { input_size, .. }
                if input_size > MAX_MNIST_CNN_INPUT
                    || mnist_cnn_feature_side(input_size).is_none() =>
            {
                Err(InvalidArchitecture(format!(
                    "the MNIST CNN's input_size is {input_size}, expected 16 to {MAX_MNIST_CNN_INPUT}"
                )))
            }
            Self::Vgg { depth, .. } if vgg_stage_lengths(depth).is_none() => Err(
                InvalidArchitecture(format!("VGG depth {depth} is not one of {VGG_DEPTHS:?}")),
            ),
            Self::CifarResNet { depth, .. }
                if depth > MAX_CIFAR_RESNET_DEPTH || cifar_blocks_per_stage(depth).is_none() =>
            {
                Err(InvalidArchitecture(format!(
                    "CIFAR ResNet depth {depth} is not 6n + 2 (8 to {MAX_CIFAR_RESNET_DEPTH})"
                )))
            }
            Self::ResNet { depth, .. } if imagenet_layout(depth).is_none() => {
                Err(InvalidArchitecture(format!(
                    "ResNet depth {depth} is not one of {IMAGENET_RESNET_DEPTHS:?}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Builds the network with fresh weights on `device`.
    ///
    /// # Panics
    /// If the settings are invalid; [`validate`](Self::validate) says so without panicking.
    pub fn init(&self, device: &Device) -> AnyModel {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        match *self {
            Self::SmallCnn {
                in_channels,
                num_classes,
                width,
            } => AnyModel::SmallCnn(PlainCnn::small_cnn(in_channels, num_classes, width, device)),
            Self::MnistCnn {
                in_channels,
                num_classes,
                width,
                input_size,
            } => AnyModel::MnistCnn(MnistCnn::new(
                in_channels,
                num_classes,
                width,
                input_size,
                device,
            )),
            Self::Vgg {
                in_channels,
                num_classes,
                depth,
                width,
            } => AnyModel::Vgg(PlainCnn::vgg(
                in_channels,
                num_classes,
                depth,
                width,
                device,
            )),
            Self::CifarResNet {
                in_channels,
                num_classes,
                depth,
                width,
            } => AnyModel::ResNet(ResNet::cifar(
                in_channels,
                num_classes,
                depth,
                width,
                device,
            )),
            Self::ResNet {
                in_channels,
                num_classes,
                depth,
                width,
            } => AnyModel::ResNet(ResNet::imagenet(
                in_channels,
                num_classes,
                depth,
                width,
                device,
            )),
        }
    }
}

/// Any of the models, so callers can hold whichever one the metadata names.
#[derive(Module, Debug)]
pub enum AnyModel {
    SmallCnn(PlainCnn),
    MnistCnn(MnistCnn),
    Vgg(PlainCnn),
    ResNet(ResNet),
}

impl CamModel for AnyModel {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Self::SmallCnn(m) => m.features(images),
            Self::MnistCnn(m) => m.features(images),
            Self::Vgg(m) => m.features(images),
            Self::ResNet(m) => m.features(images),
        }
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        match self {
            Self::SmallCnn(m) => m.head(features),
            Self::MnistCnn(m) => m.head(features),
            Self::Vgg(m) => m.head(features),
            Self::ResNet(m) => m.head(features),
        }
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        match self {
            Self::SmallCnn(m) => m.gap_linear_weight(),
            Self::MnistCnn(m) => m.gap_linear_weight(),
            Self::Vgg(m) => m.gap_linear_weight(),
            Self::ResNet(m) => m.gap_linear_weight(),
        }
    }
}

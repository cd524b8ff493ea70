//! Turning raw RGB bytes into the normalised NCHW tensors the models take.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Per-channel (R, G, B) mean and standard deviation of pixel values in `[0, 1]`;
/// a model sees `(pixel / 255 - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// MNIST's grey-level statistics on each of the three channels (spurious MNIST is RGB only
    /// so that the red square can be told apart from the digit).
    pub const MNIST_RGB: Self = Self {
        mean: [0.1307; 3],
        std: [0.3081; 3],
    };

    /// CIFAR-10 training-set statistics.
    pub const CIFAR10: Self = Self {
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2470, 0.2435, 0.2616],
    };

    /// ImageNet statistics, used for CelebA as in the paper.
    pub const IMAGENET: Self = Self {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// Every mean finite and every std finite and positive (the values may come from a file).
    pub fn is_valid(&self) -> bool {
        self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0)
    }
}

/// Height and width, in pixels, of the images a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSize {
    pub height: usize,
    pub width: usize,
}

impl InputSize {
    pub const fn square(side: usize) -> Self {
        Self {
            height: side,
            width: side,
        }
    }
}

/// The datasets of the paper's experiments, with their preprocessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatasetKind {
    #[serde(rename = "spurious_mnist")]
    SpuriousMnist,
    #[serde(rename = "cifar10")]
    Cifar10,
    #[serde(rename = "celeba")]
    CelebA,
}

impl DatasetKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::SpuriousMnist => "spurious_mnist",
            Self::Cifar10 => "cifar10",
            Self::CelebA => "celeba",
        }
    }

    pub fn normalization(self) -> Normalization {
        match self {
            Self::SpuriousMnist => Normalization::MNIST_RGB,
            Self::Cifar10 => Normalization::CIFAR10,
            Self::CelebA => Normalization::IMAGENET,
        }
    }

    /// The input size of the paper's setting (CelebA at 224x224 as for ImageNet ResNets; a CPU
    /// demo may train smaller and records its own size in the bundle).
    pub fn input_size(self) -> InputSize {
        match self {
            Self::SpuriousMnist => InputSize::square(28),
            Self::Cifar10 => InputSize::square(32),
            Self::CelebA => InputSize::square(224),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PreprocessError {
    #[error(
        "expected {expected} bytes ({batch} RGB images of {height}x{width}, 3 bytes per pixel), \
         got {found}: resize the images to the model's input size first"
    )]
    WrongLength {
        batch: usize,
        height: usize,
        width: usize,
        expected: usize,
        found: usize,
    },
    #[error("no images to preprocess: the batch is empty")]
    EmptyBatch,
}

/// Normalises `batch` RGB images stored one after another as rows of `[r, g, b]` bytes
/// (HWC, as image decoders give them) into a `[batch, 3, height, width]` tensor on `device`.
pub fn images_to_tensor(
    pixels: &[u8],
    batch: usize,
    size: InputSize,
    normalization: &Normalization,
    device: &Device,
) -> Result<Tensor<4>, PreprocessError> {
    let InputSize { height, width } = size;
    let plane = height * width;
    if batch == 0 || plane == 0 {
        return Err(PreprocessError::EmptyBatch);
    }
    let expected = batch * plane * 3;
    if pixels.len() != expected {
        return Err(PreprocessError::WrongLength {
            batch,
            height,
            width,
            expected,
            found: pixels.len(),
        });
    }
    // (p / 255 - mean) / std as one multiply-add per value.
    let scale = normalization.std.map(|s| 1.0 / (255.0 * s));
    let offset: [f32; 3] = std::array::from_fn(|c| -normalization.mean[c] / normalization.std[c]);
    let mut values = vec![0f32; expected];
    for (image, out) in pixels
        .chunks_exact(plane * 3)
        .zip(values.chunks_exact_mut(plane * 3))
    {
        for (i, rgb) in image.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = f32::from(rgb[c]) * scale[c] + offset[c];
            }
        }
    }
    let data = TensorData::new(values, [batch, 3, height, width]);
    Ok(Tensor::from_data(data, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwc_bytes_become_normalised_nchw() {
        let device = Device::flex();
        // Two 1x2 images: pixel (r, g, b) values chosen so each lands on a known number.
        let pixels = [255, 0, 51, 0, 255, 102, 0, 0, 0, 255, 255, 255];
        let norm = Normalization {
            mean: [0.5, 0.0, 0.2],
            std: [0.5, 1.0, 0.4],
        };
        let size = InputSize {
            height: 1,
            width: 2,
        };
        let x = images_to_tensor(&pixels, 2, size, &norm, &device).unwrap();
        assert_eq!(x.dims(), [2, 3, 1, 2]);
        let got = x.into_data().try_to_vec::<f32>().unwrap();
        let want = [
            1.0, -1.0, 0.0, 1.0, 0.0, 0.5, -1.0, 1.0, 0.0, 1.0, -0.5, 2.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn wrong_length_and_empty_batches_are_errors() {
        let device = Device::flex();
        let norm = DatasetKind::Cifar10.normalization();
        let size = DatasetKind::Cifar10.input_size();
        let err = images_to_tensor(&[0; 100], 1, size, &norm, &device).unwrap_err();
        assert!(matches!(
            err,
            PreprocessError::WrongLength {
                expected: 3072,
                found: 100,
                ..
            }
        ));
        let err = images_to_tensor(&[], 0, size, &norm, &device).unwrap_err();
        assert_eq!(err, PreprocessError::EmptyBatch);
    }

    #[test]
    fn dataset_presets_are_valid_and_round_trip_through_json() {
        for kind in [
            DatasetKind::SpuriousMnist,
            DatasetKind::Cifar10,
            DatasetKind::CelebA,
        ] {
            assert!(kind.normalization().is_valid());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<DatasetKind>(&json).unwrap(), kind);
        }
    }
}

//! Shapes and layouts of the inputs, checked before anything is uploaded.

use crate::KernelError;

/// Shape of a batch of last-conv-block activations, `[batch, channels, height, width]`, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureShape {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl FeatureShape {
    /// Values per channel (`height * width`).
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Values in the whole batch.
    pub fn values(&self) -> usize {
        self.batch * self.channels * self.plane()
    }

    pub(crate) fn check(&self, activations: &[f32]) -> Result<(), KernelError> {
        if self.batch == 0 || self.channels == 0 || self.plane() == 0 {
            return Err(KernelError::Shape(format!("empty feature shape {self:?}")));
        }
        expect_len("activations", activations.len(), self.values())
    }
}

/// How the channel weights `w_k` of the map `ReLU(sum_k w_k A_k)` are obtained.
#[derive(Clone, Copy, Debug)]
pub enum ChannelWeights<'a> {
    /// XGradCAM from the gradient of each image's class score w.r.t. the activations (same shape):
    /// `w_k = sum_ij(G_kij * A_kij) / (sum_ij A_kij + 1e-7)`.
    XGradCam { gradients: &'a [f32] },
    /// XGradCAM of a global-average-pool + linear head without a backward pass: the gradient is
    /// the constant `W[c, k] / (h * w)`. `classifier` is `W`, `[classes, channels]`; `targets` the
    /// class per image.
    GapLinear {
        classifier: &'a [f32],
        classes: usize,
        targets: &'a [u32],
    },
    /// Weights computed elsewhere, `[batch, channels]` (e.g. plain CAM: the classifier rows).
    Given(&'a [f32]),
}

/// Byte layout of one raw image pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Gray,
    Rgb,
    /// Masking zeroes red, green and blue and keeps alpha, so a masked pixel shows black.
    Rgba,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Gray => 1,
            PixelFormat::Rgb => 3,
            PixelFormat::Rgba => 4,
        }
    }

    /// Leading bytes of a pixel that masking sets to 0.
    pub(crate) fn colour_channels(self) -> usize {
        match self {
            PixelFormat::Rgba => 3,
            other => other.channels(),
        }
    }
}

/// Raw interleaved u8 images, `[batch, height, width, channels]`, at the maps' resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    pub height: usize,
    pub width: usize,
    pub format: PixelFormat,
}

impl ImageLayout {
    pub(crate) fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// The batch size that `maps` (`[batch, height, width]`) and `images` agree on.
    pub(crate) fn batch(&self, maps: usize, images: usize) -> Result<usize, KernelError> {
        let pixels = self.pixels();
        if pixels == 0 || maps == 0 || !maps.is_multiple_of(pixels) {
            return Err(KernelError::Shape(format!(
                "{maps} map values are not a non-empty batch of {}x{} maps",
                self.height, self.width
            )));
        }
        let batch = maps / pixels;
        expect_len(
            "image bytes",
            images,
            batch * pixels * self.format.channels(),
        )?;
        Ok(batch)
    }
}

pub(crate) fn expect_len(what: &str, given: usize, expected: usize) -> Result<(), KernelError> {
    if given == expected {
        Ok(())
    } else {
        Err(KernelError::Shape(format!(
            "{given} {what} given, {expected} expected"
        )))
    }
}
